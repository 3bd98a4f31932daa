// KRPC query names the overlay adds to the DHT. Mainline nodes answer them with
// "method unknown", which is how a node tells an overlay node from a plain DHT node.
#pragma once

namespace ovl::overlay::method {

// Firewalled node -> introducer: hold my registration (signed, IP-bound token).
inline constexpr const char* register_peer = "ovl_register";
// Requester -> introducer: introduce me to a registered peer.
inline constexpr const char* introduce = "ovl_introduce";
// Introducer -> registered peer: someone wants to reach you, punch toward them.
inline constexpr const char* introduction = "ovl_introduction";
// Requester -> introducer: carry our traffic to a registered peer (last resort).
inline constexpr const char* relay = "ovl_relay";
// Node -> helper: have someone else probe the address you see me at.
inline constexpr const char* dial_back = "ovl_dialback";
// Helper -> another node: send one probe datagram to this endpoint.
inline constexpr const char* probe = "ovl_probe";

} // namespace ovl::overlay::method
