// lt_dht_target: a stock libtorrent::session running only its DHT node, with the DHT's
// rate limits raised so that the CPU is the limit, as the other half of the side-by-side
// benchmark (tests/bench/dht_side_by_side). Prints "listening on PORT" once the DHT
// socket is up, then runs until SIGINT/SIGTERM. Lines "add IP:PORT" on stdin make it
// ping that node (session::add_dht_node): libtorrent only puts nodes that answered it in
// find_node replies, and on its own it verifies nodes that queried it at about one a second.
//
//   lt_dht_target IP:PORT
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

namespace {

std::atomic<bool> stop{false};

void on_signal(int) { stop = true; }

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: lt_dht_target IP:PORT\n");
        return 2;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    lt::settings_pack s;
    s.set_str(lt::settings_pack::listen_interfaces, argv[1]);
    s.set_str(lt::settings_pack::dht_bootstrap_nodes, "");
    s.set_bool(lt::settings_pack::enable_dht, true);
    s.set_bool(lt::settings_pack::enable_lsd, false);
    s.set_bool(lt::settings_pack::enable_upnp, false);
    s.set_bool(lt::settings_pack::enable_natpmp, false);
    s.set_int(lt::settings_pack::alert_mask, 0);
    // The limits that would otherwise make this a rate-limit benchmark. libtorrent keeps
    // 3 s of upload quota and counts per-IP packets over 10 s in ints, so larger values
    // than these overflow and stop the DHT from answering at all.
    s.set_int(lt::settings_pack::dht_upload_rate_limit, 500'000'000);
    s.set_int(lt::settings_pack::dht_block_ratelimit, 1'000'000);
    s.set_bool(lt::settings_pack::dht_restrict_routing_ips, false);
    s.set_bool(lt::settings_pack::dht_restrict_search_ips, false);
    s.set_int(lt::settings_pack::dht_max_peers_reply, 100);
    s.set_int(lt::settings_pack::dht_max_fail_count, 100);

    lt::session session(lt::session_params(std::move(s)));
    // The DHT socket opens asynchronously; the port is known once listening.
    for (int i = 0; i < 500 && !session.is_listening(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!session.is_listening()) {
        std::fprintf(stderr, "lt_dht_target: could not listen on %s\n", argv[1]);
        return 1;
    }
    std::printf("listening on %d\n", session.listen_port());
    std::fflush(stdout);
    // Detached: it may stay blocked on stdin until the process exits.
    std::thread([&session] {
        for (std::string line; std::getline(std::cin, line);) {
            const auto colon = line.rfind(':');
            if (line.rfind("add ", 0) != 0 || colon == std::string::npos) continue;
            session.add_dht_node({line.substr(4, colon - 4), std::stoi(line.substr(colon + 1))});
        }
    }).detach();
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return 0;
}
