#include "cli/nat_check_command.hpp"

#include "cli/nat_report.hpp"
#include "cli/output.hpp"
#include "cli/overlay_session.hpp"
#include "cli/session_options.hpp"
#include "cli/tcp_check.hpp"

#include <CLI/App.hpp>

#include <system_error>

namespace ovl::cli {

namespace {
using namespace std::chrono_literals;
constexpr auto tcp_timeout = 3s;
} // namespace

struct nat_check_command::options {
    session_options common;
    bool chosen = false;
};

nat_check_command::nat_check_command(CLI::App& app) : opts_(std::make_unique<options>()) {
    auto* cmd = app.add_subcommand(
        "nat-check", "work out this network's NAT behaviour and reachability from other overlay nodes (no STUN)");
    opts_->common.add_to(cmd, "give up after this many seconds if the verdict is still unknown",
                         "print exactly one JSON object on stdout (keys in docs/CLI.md)");
    cmd->callback([o = opts_.get()] { o->chosen = true; });
}

nat_check_command::~nat_check_command() = default;

bool nat_check_command::chosen() const { return opts_->chosen; }

int nat_check_command::run() const {
    const auto& common = opts_->common;
    const output out(common.json);
    auto config = common.config();
    if (config.dht.bootstrap.empty()) return out.fail("no node to ask: give at least one --bootstrap IP:PORT");
    const auto keepalive = config.keepalive_interval;
    const auto bootstraps = config.dht.bootstrap;
    // Nothing of the check should stay in other nodes' tables or registrations.
    config.introducer.enabled = false;
    auto log = stderr_logger("overlay", common.log_level);
    auto rng = random_source::from_os();
    std::optional<overlay_session> s;
    try {
        s.emplace(std::move(config), overlay::identity::generate(rng), common.bind_endpoint(), log, common.ipv6());
    } catch (const std::system_error& e) {
        return out.fail("cannot bind to " + common.bind + ": " + e.code().message());
    }

    std::string error;
    const auto started = io::steady_now();
    timestamp finished{};
    s->set_hook([&](timestamp now) {
        if (s->node().profile().verdict == overlay::nat_verdict::unknown) return;
        // A dual-stack check also waits for its IPv6 dial-back round (after the DHT join).
        if (s->local6() && s->node().prober6().rounds() == 0) return;
        finished = now;
        s->driver().stop();
    });
    s->run_on_loop([&](timestamp now) { s->node().start(now); });
    s->driver().schedule(common.timeout_duration(), [&](timestamp now) {
        error = fmt::format("timed out after {} s before the verdict was known", common.timeout);
        finished = now;
        s->driver().stop();
    });
    s->driver().on_termination_signal([&](int) {
        error = "interrupted";
        s->driver().stop();
    });
    s->driver().run();
    if (error == "interrupted") return out.fail(error);

    const auto profile = s->node().profile();
    auto result = nat_json(profile, keepalive);
    std::string text = nat_text(profile, keepalive);
    result["local"] = s->local().to_string();
    result["elapsed_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(finished - started).count();
    const bool udp_blocked = profile.verdict == overlay::nat_verdict::udp_blocked;
    result["udp_blocked"] = udp_blocked;
    result["tcp_reachable"] = nullptr;
    if (udp_blocked) {
        // Which is it: UDP blocked here, or the bootstrap nodes down?
        bool tcp_ok = false;
        std::vector<std::string> failures;
        for (const auto& b : bootstraps) {
            std::string why;
            if (tcp_reachable(b, tcp_timeout, why)) {
                tcp_ok = true;
                break;
            }
            failures.push_back(b.to_string() + ": " + why);
        }
        result["tcp_reachable"] = tcp_ok;
        const std::string meaning =
            tcp_ok ? "UDP is blocked on this network (TCP to the bootstrap nodes works): peers behind it need TCP or "
                     "a relay, which are not available yet"
                   : fmt::format("neither UDP nor TCP reaches the bootstrap nodes ({}): check the addresses, or the "
                                 "network is offline",
                                 fmt::join(failures, "; "));
        result["hint"] = meaning;
        text += fmt::format("\ntcp to bootstrap: {}\n  meaning:       {}", tcp_ok ? "reachable" : "unreachable", meaning);
    }
    if (!error.empty()) {
        result["ok"] = false;
        result["error"] = error;
        std::fprintf(stderr, "overlay: error: %s\n", error.c_str());
        output::print(common.json ? result.dump() : text);
        return 1;
    }
    return out.succeed(result, text);
}

} // namespace ovl::cli
