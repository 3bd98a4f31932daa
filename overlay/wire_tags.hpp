// Everything the overlay sends shares one UDP socket with the DHT, so that the NAT
// mapping other nodes observe is the very one a punched path uses. The first byte of a
// datagram says who it is for.
#pragma once

#include <cstdint>

namespace ovl::overlay::tag {

// KRPC messages (DHT and overlay control queries) are bencoded dictionaries.
inline constexpr std::uint8_t krpc = 'd';
// Hole punching: probe and acknowledgement, [tag][session id: 8].
inline constexpr std::uint8_t punch_probe = 0x01;
inline constexpr std::uint8_t punch_ack = 0x02;
// Reachability: a dial-back probe, [tag][nonce: 8].
inline constexpr std::uint8_t dial_back = 0x03;
// Secure stream packets (overlay/stream) use 0x10-0x1f.
inline constexpr std::uint8_t stream_first = 0x10;
inline constexpr std::uint8_t stream_last = 0x1f;
// Relay frames use 0x20-0x2f.
inline constexpr std::uint8_t relay_first = 0x20;
inline constexpr std::uint8_t relay_last = 0x2f;

} // namespace ovl::overlay::tag
