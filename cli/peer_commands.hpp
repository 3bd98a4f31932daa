// `overlay listen` and `overlay connect`: what a person types to reach a peer behind a
// NAT. listen keeps a key (its peer id), registers with introducers and accepts secure
// streams; connect finds the peer's introducers in the DHT, gets introduced, punches,
// and pipes stdin/stdout (or measures round trips with --ping).
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace ovl::cli {

class peer_commands {
public:
    // Registers `listen` and `connect` under `app`.
    explicit peer_commands(CLI::App& app);
    ~peer_commands();
    bool chosen() const;
    // Runs the parsed subcommand; returns the process exit status.
    int run() const;

private:
    struct options;
    std::unique_ptr<options> opts_;
};

} // namespace ovl::cli
