// overlay: command-line tools for operators, scripts and people connecting peers.
#include "cli/dht_commands.hpp"
#include "cli/nat_check_command.hpp"
#include "cli/peer_commands.hpp"

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

int main(int argc, char** argv) {
    CLI::App app{"overlay: tools for the peer overlay and its DHT"};
    app.option_defaults()->always_capture_default();
    app.set_version_flag("--version", std::string("overlay ") + OVERLAY_VERSION);
    app.require_subcommand(1);
    auto* dht = app.add_subcommand("dht", "talk to the mainline DHT (BEP 5)");
    ovl::cli::dht_commands dht_cmds(*dht);
    ovl::cli::nat_check_command nat_check(app);
    ovl::cli::peer_commands peers(app);
    CLI11_PARSE(app, argc, argv);
    if (nat_check.chosen()) return nat_check.run();
    if (peers.chosen()) return peers.run();
    return dht_cmds.run();
}
