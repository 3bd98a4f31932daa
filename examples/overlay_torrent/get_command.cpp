// overlay-torrent get: downloads a torrent (file or magnet link) with a progress bar,
// has libtorrent re-check every piece against its hash at the end, and prints a summary
// with the path the overlay found. Exits 0 only when the data is complete and verified.
#include "examples/overlay_torrent/commands.hpp"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/magnet_uri.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>
#include <iostream>
#include <unistd.h>

namespace ovl::examples {

namespace {
void progress_bar(const lt::torrent_status& st, bool tty) {
    constexpr int width = 30;
    const int filled = static_cast<int>(st.progress * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "%s[%s] %5.1f%%  %d peers  %.1f kB/s%s", tty ? "\r" : "", bar.c_str(), st.progress * 100,
                 st.num_peers, st.download_payload_rate / 1000.0, tty ? "" : "\n");
    std::fflush(stderr);
}
} // namespace

int run_get(const session_options& s, const get_options& o) {
    lt::add_torrent_params atp;
    lt::error_code ec;
    if (o.torrent.rfind("magnet:", 0) == 0) {
        atp = lt::parse_magnet_uri(o.torrent, ec);
    } else {
        atp.ti = std::make_shared<lt::torrent_info>(o.torrent, ec);
    }
    if (ec) {
        std::cerr << "overlay-torrent get: " << o.torrent << ": " << ec.message() << "\n";
        return 1;
    }
    atp.save_path = o.dir;
    if (o.overlay_peers_only)
        atp.flags |= lt::torrent_flags::disable_dht | lt::torrent_flags::disable_lsd | lt::torrent_flags::disable_pex;
    torrent_session ts(s);
    const auto started = std::chrono::steady_clock::now();
    auto handle = ts.session().add_torrent(std::move(atp), ec);
    if (ec) {
        std::cerr << "overlay-torrent get: cannot add torrent: " << ec.message() << "\n";
        return 1;
    }
    const bool tty = isatty(STDERR_FILENO) != 0;
    enum class phase { downloading, rechecking, verified } now_in = phase::downloading;
    std::string failure;
    // From the first block received to the last: the transfer itself, without discovery.
    std::optional<std::chrono::steady_clock::time_point> first_block, last_block;
    auto on_alert = [&](const lt::alert& a) {
        if (lt::alert_cast<lt::block_finished_alert>(&a)) {
            last_block = std::chrono::steady_clock::now();
            if (!first_block) first_block = last_block;
            return true;
        }
        if (const auto* e = lt::alert_cast<lt::file_error_alert>(&a)) {
            failure = "file error: " + e->error.message();
            return false;
        }
        if (lt::alert_cast<lt::torrent_finished_alert>(&a) && now_in == phase::downloading) {
            now_in = phase::rechecking;
            handle.force_recheck();
        } else if (lt::alert_cast<lt::torrent_checked_alert>(&a) && now_in == phase::rechecking) {
            now_in = phase::verified;
            return false;
        }
        return true;
    };
    const auto deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(o.timeout));
    // With --json the bar only goes to a terminal, so scripts see one clean object.
    const bool bar = !o.json || tty;
    const auto why = ts.run(on_alert, [&] { if (bar) progress_bar(handle.status(), tty); }, deadline);
    if (tty && bar) std::fputc('\n', stderr);

    const auto st = handle.status();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double connect_ms = 0;
    const auto path = best_path(ts.overlay(), &connect_ms);
    const bool ok = now_in == phase::verified && st.is_seeding && failure.empty();
    if (!ok && failure.empty())
        failure = why == torrent_session::stop_reason::signal ? "interrupted"
                : st.num_peers == 0 ? "no peer reachable within the timeout"
                                    : "download incomplete within the timeout";
    const auto total = st.total_wanted;
    if (o.json) {
        nlohmann::json j{{"ok", ok}, {"bytes", total}, {"seconds", seconds},
                         {"path", path.empty() ? nlohmann::json() : nlohmann::json(path)}, {"peers", st.num_peers}};
        if (!path.empty()) j["connect_ms"] = connect_ms;
        if (ok) j["mb_per_s"] = total / seconds / 1e6;
        if (ok && first_block && *last_block > *first_block) {
            const double transfer = std::chrono::duration<double>(*last_block - *first_block).count();
            j["transfer_seconds"] = transfer;
            j["transfer_mb_per_s"] = total / transfer / 1e6;
        }
        if (!ok) j["error"] = failure;
        std::cout << j.dump() << std::endl;
    } else if (ok) {
        std::cout << "downloaded and verified " << total << " bytes in " << seconds << " s ("
                  << total / seconds / 1e6 << " MB/s), path: " << (path.empty() ? "not through the overlay" : path);
        if (!path.empty()) std::cout << ", connected " << connect_ms << " ms after the introduction";
        std::cout << std::endl;
    } else {
        std::cerr << "overlay-torrent get: failed: " << failure << std::endl;
    }
    return ok ? 0 : 1;
}

} // namespace ovl::examples
