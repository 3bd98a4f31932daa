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
};
int run_get(const session_options& s, const get_options& o);

} // namespace ovl::examples
