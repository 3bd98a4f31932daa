// overlay: command-line tools for operators and scripts.
#include "cli/dht_commands.hpp"

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

int main(int argc, char** argv) {
    CLI::App app{"overlay: tools for the peer overlay and its DHT"};
    app.option_defaults()->always_capture_default();
    app.set_version_flag("--version", std::string("overlay ") + OVERLAY_VERSION);
    app.require_subcommand(1);
    auto* dht = app.add_subcommand("dht", "talk to the mainline DHT (BEP 5)");
    ovl::cli::dht_commands commands(*dht);
    CLI11_PARSE(app, argc, argv);
    return commands.run();
}
