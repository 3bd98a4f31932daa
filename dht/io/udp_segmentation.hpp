// UDP generic segmentation offload (Linux UDP_SEGMENT, UDP_GRO). A run of datagrams to one
// destination, all of one size but a shorter last one, leaves in one send: the kernel, and
// every router whose devices keep segments together (veth, NICs with GSO), handles the run as
// one packet until it is split at the receiving socket, or at the first device that cannot
// carry it. A bulk stream pays per-packet costs (system call, routing, netfilter and NAT on
// every hop) once per run instead of once per datagram. A receiving socket with UDP_GRO gets
// such runs whole, with the segment size beside them.
#pragma once

#include "dht/base/datagram.hpp"

#include <cstddef>
#include <span>

namespace ovl::io {

// The kernel's limit on segments per send (UDP_MAX_SEGMENTS in kernels before 6.9).
inline constexpr std::size_t max_segments = 64;
// A run's payload must fit one UDP datagram: 65,507 bytes over IPv4 (IPv6 allows 20 more).
inline constexpr std::size_t max_segmented_bytes = 65535 - 20 - 8;

// How many datagrams from the front of `batch` may go out as one segmented send: the run
// of datagrams to the front's destination from the front's socket, with the default TTL (a
// TTL is per send, not per segment), none from the secondary port, each the front's size
// except a last one that may be shorter, within max_segments and max_segmented_bytes. Small
// datagrams share sends too: a bulk stream's acknowledgements are a run of them, and
// sending them alone cost the relay and NAT hops a packet each (a relayed stream took twice
// the introducer's CPU per MB).
// At least 1 for a non-empty batch.
std::size_t segment_run(std::span<const outgoing_datagram> batch);

} // namespace ovl::io
