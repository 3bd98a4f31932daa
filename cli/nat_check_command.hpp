// `overlay nat-check`: runs a short-lived overlay peer with a throwaway key until it
// knows its NAT verdict, and prints it with the evidence (docs/CLI.md has the keys).
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace ovl::cli {

class nat_check_command {
public:
    // Registers `nat-check` under `app`.
    explicit nat_check_command(CLI::App& app);
    ~nat_check_command();
    // Runs it when it was the parsed subcommand; returns the process exit status.
    int run() const;
    bool chosen() const;

private:
    struct options;
    std::unique_ptr<options> opts_;
};

} // namespace ovl::cli
