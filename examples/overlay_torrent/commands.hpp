// The two commands of overlay-torrent.
#pragma once

#include "examples/overlay_torrent/torrent_session.hpp"

#include <optional>
#include <string>

namespace ovl::examples {

struct seed_options {
    std::string path;
    std::string out;
    // Stop after this many seconds (default: until SIGINT/SIGTERM).
    std::optional<double> seconds;
    bool json = false;
};
int run_seed(const session_options& s, const seed_options& o);

struct get_options {
    std::string torrent;
    std::string dir;
    double timeout = 300;
    bool json = false;
    // Peers only from the overlay's rendezvous: libtorrent's own DHT, local discovery and
    // PEX are off for this torrent, so any connection it makes is one the overlay set up.
    bool overlay_peers_only = false;
};
int run_get(const session_options& s, const get_options& o);

} // namespace ovl::examples
