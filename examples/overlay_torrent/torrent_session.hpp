// A libtorrent session set up the way both commands of overlay-torrent need it: DHT on,
// bootstrapped from the given overlay nodes, the overlay plugin added (unless turned
// off, which is how the tests show that the plugin is what makes firewalled peers meet),
// and a loop that hands alerts to a callback until asked to stop (SIGINT/SIGTERM).
#pragma once

#include "overlay/torrent/plugin.hpp"

#include <libtorrent/alert.hpp>
#include <libtorrent/session.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ovl::examples {

struct session_options {
    std::string listen = "0.0.0.0:6881";
    std::vector<std::string> bootstrap;
    std::string key_file;
    bool overlay = true;
    bool introducer = false;
    bool verbose = false;
};

class torrent_session {
public:
    explicit torrent_session(const session_options& o);
    ~torrent_session();

    lt::session& session() { return *session_; }
    // Null when the overlay is off.
    const torrent::overlay_plugin* overlay() const { return plugin_.get(); }

    // Pops alerts into `on_alert` until it returns false, `deadline` passes, or a signal
    // arrives; also calls `on_second` about once a second. Returns why it stopped.
    enum class stop_reason { done, deadline, signal };
    stop_reason run(const std::function<bool(const lt::alert&)>& on_alert, const std::function<void()>& on_second,
                    std::optional<std::chrono::steady_clock::time_point> deadline);

private:
    std::shared_ptr<torrent::overlay_plugin> plugin_;
    std::unique_ptr<lt::session> session_;
};

// The best path the overlay found to any peer, e.g. "direct-utp" or "relayed", or "" when none.
std::string best_path(const torrent::overlay_plugin* overlay, double* connect_ms);

} // namespace ovl::examples
