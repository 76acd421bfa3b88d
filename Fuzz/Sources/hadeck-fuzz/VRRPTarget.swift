import VRRPCore

// Peers' datagrams: a raw IPv4 packet (header checks, then the VRRP message) and the bare
// message (hadeck's loopback wire), decoded as VRRPv2 with PASS authentication and as VRRPv3.
// Junk is a discard reason, never a trap; what decodes encodes to bytes that decode to the same advert.

private let expectations = [
    VRRPExpectation(
        version: 2, virtualRouterID: 51, advertInterval: .seconds(1),
        authentication: VRRPAuthentication(type: .pass, password: "secret")),
    VRRPExpectation(version: 3, virtualRouterID: 51, advertInterval: .seconds(1), authentication: nil),
]

func fuzzVRRP(_ data: UnsafeRawBufferPointer) {
    let bytes = Array(data)
    for multicast in [true, false] {
        if case .success((let header, let message)) = VRRPCodec.vrrpMessage(inIPv4: bytes, multicast: multicast) {
            decode(message, source: header.source, destination: header.destination)
        }
    }
    decode(bytes, source: "10.0.0.1", destination: "224.0.0.18")
}

private func decode(_ message: [UInt8], source: String, destination: String) {
    for expecting in expectations {
        guard
            case .success(let advert) = VRRPCodec.decode(
                message, source: source, destination: destination, expecting: expecting)
        else { continue }
        // A VRRPv3 interval of 0 centiseconds is sent as 1 (the encoder's floor): nothing to compare.
        if expecting.version == 3 && message[4] & 0x0F == 0 && message[5] == 0 { continue }
        let again = VRRPCodec.encode(advert, source: source, destination: destination)
        precondition(
            VRRPCodec.decode(again, source: source, destination: destination, expecting: expecting)
                == .success(advert),
            "a decoded advert does not survive encoding")
    }
}
