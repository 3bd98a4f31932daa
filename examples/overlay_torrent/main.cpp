// overlay-torrent: a small BitTorrent client on libtorrent with the overlay plugin, so
// that a seeder and a leecher behind different NATs reach each other with no tracker
// and no port forwarding.
#include "examples/overlay_torrent/commands.hpp"

#include "cli/endpoint_option.hpp"

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"overlay-torrent: trackerless BitTorrent through NATs, with the overlay plugin on libtorrent"};
    app.option_defaults()->always_capture_default();
    app.require_subcommand(1);
    ovl::examples::session_options session;
    auto add_session_flags = [&](CLI::App* cmd) {
        cmd->add_option("--bootstrap", session.bootstrap,
                        "overlay node (e.g. a volunteer's overlay-node) to join the DHT through, IP:PORT; repeatable")
            ->check(ovl::cli::endpoint_validator(ovl::cli::port_rule::required_nonzero));
        cmd->add_option("--listen", session.listen, "libtorrent listen interface (TCP and UDP), IP:PORT");
        cmd->add_option("--key", session.key_file,
                        "overlay identity file (64 hex digits of ed25519 seed), created if missing (default: a new "
                        "identity each run)");
        cmd->add_flag("!--no-overlay", session.overlay,
                      "run plain libtorrent without the overlay plugin (to compare: firewalled peers then never meet)");
        cmd->add_flag("--introducer", session.introducer,
                      "this machine is publicly reachable: serve firewalled peers as an introducer");
        cmd->add_flag("--verbose", session.verbose, "log what the overlay does (introductions, punches) to stderr");
    };

    ovl::examples::seed_options seed;
    auto* seed_cmd = app.add_subcommand("seed", "create a trackerless torrent of FILE or DIR and seed it");
    seed_cmd->add_option("path", seed.path, "file or directory to seed")->required();
    seed_cmd->add_option("--out", seed.out, "where to write the .torrent file")->required();
    seed_cmd->add_option("--for", seed.seconds, "stop after this many seconds (default: until SIGINT/SIGTERM)")
        ->check(CLI::PositiveNumber);
    seed_cmd->add_flag("--json", seed.json, "print events as JSON objects, one per line");
    add_session_flags(seed_cmd);

    ovl::examples::get_options get;
    auto* get_cmd = app.add_subcommand("get", "download a torrent (.torrent file or magnet link) into DIR");
    get_cmd->add_option("torrent", get.torrent, "NAME.torrent or magnet link")->required();
    get_cmd->add_option("--dir", get.dir, "directory to download into")->required();
    get_cmd->add_option("--timeout", get.timeout, "give up after this many seconds")->check(CLI::PositiveNumber);
    get_cmd->add_flag("--overlay-peers-only", get.overlay_peers_only,
                      "find peers only through the overlay (libtorrent's DHT lookup, local discovery and PEX off "
                      "for this torrent): a test then knows a direct connection is one the overlay punched, not "
                      "one that DHT traffic between two NATed sessions happened to open");
    get_cmd->add_flag("--json", get.json,
                      "print one JSON object: ok, bytes, seconds, path, connect_ms, peers, mb_per_s, transfer_seconds, "
                      "transfer_mb_per_s (or error)");
    add_session_flags(get_cmd);

    CLI11_PARSE(app, argc, argv);
    try {
        if (seed_cmd->parsed()) return ovl::examples::run_seed(session, seed);
        return ovl::examples::run_get(session, get);
    } catch (const std::exception& e) {
        std::cerr << "overlay-torrent: " << e.what() << "\n";
        return 1;
    }
}
