import Testing

@testable import HadeckBase

@Test func wholeLinesComeOffTheFrontAndAPartialOneWaits() {
    var bytes = Array("Vrrp_Instance(VI_1) MASTER\n\nhalf a li".utf8)
    #expect(bytes.removeFirstLine() == "Vrrp_Instance(VI_1) MASTER")
    #expect(bytes.removeFirstLine() == "")
    #expect(bytes.removeFirstLine() == nil)
    #expect(bytes == Array("half a li".utf8))
    bytes += Array("ne\n".utf8)
    #expect(bytes.removeFirstLine() == "half a line")
    #expect(bytes.isEmpty)
}
