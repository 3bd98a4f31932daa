// What the plugin's bridge (its native overlay endpoint, see bridge_endpoint.hpp) shows
// other peers: a peer id derived from the plugin's identity, and a preamble at the start
// of every bridged stream that says which plugin peer dials, for which torrent, and over
// which path, so the accepting side can refuse torrents it does not have and label the
// connection. The stream authenticates the bridge key only; the preamble's claims are
// used for labels and for choosing the torrent, never for trust.
#pragma once

#include "dht/base/datagram.hpp"
#include "overlay/identity.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace ovl::torrent {

// A second key pair, derived from the plugin's own, so that the native endpoint registers
// with introducers separately from the plugin's core and keeps its id across restarts.
overlay::identity bridge_identity(const overlay::identity& plugin);

enum class bridge_path : std::uint8_t { direct_udp = 1, relayed = 2 };
const char* to_string(bridge_path p);

struct bridge_preamble {
    overlay::public_key peer{};
    // The torrent's rendezvous hash (20 bytes).
    std::string rdv;
    bridge_path path = bridge_path::relayed;
};

inline constexpr std::size_t bridge_preamble_size = 4 + 1 + 1 + 32 + 20;

bytes encode_preamble(const bridge_preamble& p);
// nullopt unless `data` is exactly a well-formed preamble.
std::optional<bridge_preamble> decode_preamble(bytes_view data);

} // namespace ovl::torrent
