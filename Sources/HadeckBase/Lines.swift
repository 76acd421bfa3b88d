extension [UInt8] {
    /// Removes the first whole line from bytes read so far and returns it without its newline; nil
    /// while no newline has come (the rest waits for more bytes).
    public mutating func removeFirstLine() -> String? {
        guard let newline = firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = String(decoding: self[..<newline], as: UTF8.self)
        removeSubrange(...newline)
        return line
    }
}
