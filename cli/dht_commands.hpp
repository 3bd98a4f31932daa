// `overlay dht ping|get-peers|announce`: one-shot DHT operations for operators and
// scripts. Each runs a short-lived read-only node (BEP 43) on its own socket.
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace ovl::cli {

class dht_commands {
public:
    // Registers the subcommands under `dht`.
    explicit dht_commands(CLI::App& dht);
    ~dht_commands();
    // Runs the subcommand that was parsed; returns the process exit status.
    int run() const;

private:
    struct options;
    std::unique_ptr<options> opts_;
};

} // namespace ovl::cli
