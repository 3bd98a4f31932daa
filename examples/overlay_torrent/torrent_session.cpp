#include "examples/overlay_torrent/torrent_session.hpp"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/settings_pack.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>

namespace ovl::examples {

namespace {
std::atomic<int> stop_signal{0};
extern "C" void on_signal(int s) { stop_signal = s; }

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
}
} // namespace

torrent_session::torrent_session(const session_options& o) {
    lt::settings_pack pack;
    pack.set_str(lt::settings_pack::listen_interfaces, o.listen);
    pack.set_bool(lt::settings_pack::enable_dht, true);
    pack.set_str(lt::settings_pack::dht_bootstrap_nodes, join(o.bootstrap));
    pack.set_int(lt::settings_pack::alert_mask, lt::alert_category::status | lt::alert_category::error |
                                                    lt::alert_category::storage | lt::alert_category::tracker |
                                                    lt::alert_category::dht | lt::alert_category::block_progress);
    if (o.overlay) {
        torrent::plugin_settings s;
        s.bootstrap = o.bootstrap;
        s.key_file = o.key_file;
        s.introducer = o.introducer;
        auto log = spdlog::stderr_color_mt("overlay-torrent");
        log->set_level(o.verbose ? spdlog::level::info : spdlog::level::warn);
        s.log = log;
        plugin_ = std::make_shared<torrent::overlay_plugin>(std::move(s));
    }
    lt::session_params params(std::move(pack));
    if (plugin_) params.extensions.push_back(plugin_);
    session_ = std::make_unique<lt::session>(std::move(params));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

torrent_session::~torrent_session() = default;

torrent_session::stop_reason torrent_session::run(const std::function<bool(const lt::alert&)>& on_alert,
                                                  const std::function<void()>& on_second,
                                                  std::optional<std::chrono::steady_clock::time_point> deadline) {
    using clock = std::chrono::steady_clock;
    auto next_second = clock::now();
    std::vector<lt::alert*> alerts;
    for (;;) {
        if (stop_signal != 0) return stop_reason::signal;
        if (deadline && clock::now() >= *deadline) return stop_reason::deadline;
        session_->wait_for_alert(std::chrono::milliseconds(200));
        session_->pop_alerts(&alerts);
        for (const auto* a : alerts)
            if (!on_alert(*a)) return stop_reason::done;
        if (clock::now() >= next_second) {
            next_second += std::chrono::seconds(1);
            on_second();
        }
    }
}

std::string best_path(const torrent::overlay_plugin* overlay, double* connect_ms) {
    if (!overlay) return {};
    using torrent::path_state;
    // Direct paths first, then bridged ones (direct-udp before relayed).
    for (const auto want : {path_state::direct_utp, path_state::direct_tcp, path_state::direct_udp, path_state::relayed})
        for (const auto& p : overlay->paths())
            if (p.state == want) {
                if (connect_ms) *connect_ms = p.connect_ms;
                return to_string(p.state);
            }
    return {};
}

} // namespace ovl::examples
