#include "cli/node_settings.hpp"

#include "cli/endpoint_option.hpp"
#include "cli/ipv6_setting.hpp"

#include <CLI/App.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <variant>

namespace ovl::cli {

namespace {

using field_ptr = std::variant<bool node_settings::*, std::int64_t node_settings::*, double node_settings::*,
                               std::string node_settings::*, std::vector<std::string> node_settings::*>;

enum class rule { none, range, listen_endpoint, ipv6_setting, endpoint_or_empty, bootstrap_endpoints, log_level };

struct key_spec {
    const char* table;
    const char* name;
    // CLI11 option names; the first is the one looked up after parsing.
    const char* flags;
    const char* help;
    field_ptr field;
    rule check = rule::none;
    double min = 0;
    double max = 0;
    // Applied on SIGHUP; the other keys need a restart.
    bool reloadable = false;
};

constexpr std::array tables{"node", "introducer", "relay", "dht", "metrics"};

const std::array keys{
    key_spec{"node", "listen", "--listen", "UDP (and TCP) address to listen on, IP:PORT; port 0 picks a free port",
             &node_settings::listen, rule::listen_endpoint},
    key_spec{"node", "listen6", "--listen6",
             "IPv6 UDP socket beside the IPv4 one (a dual-stack DHT node, BEP 32): off; auto (on [::] at the IPv4 "
             "port number, only if this host has a global IPv6 address); or [ADDRESS]:PORT",
             &node_settings::listen6, rule::ipv6_setting},
    key_spec{"node", "bootstrap", "--bootstrap",
             "nodes to join the DHT through, IP:PORT (host names are not resolved); repeatable",
             &node_settings::bootstrap, rule::bootstrap_endpoints},
    key_spec{"node", "state_dir", "--state-dir",
             "directory keeping the node key (node.key) and known nodes across restarts; empty: nothing is saved",
             &node_settings::state_dir},
    key_spec{"node", "key", "--key",
             "key file (64 hex digits of ed25519 seed), created if missing; empty: STATE_DIR/node.key, or a new key "
             "each run without a state directory",
             &node_settings::key},
    key_spec{"node", "log_level", "--log-level", "trace, debug, info, warn, error, critical or off",
             &node_settings::log_level, rule::log_level, 0, 0, true},
    key_spec{"node", "allow_shared_ip", "--allow-shared-ip",
             "allow several routing-table entries per IP; for labs and loopback tests only",
             &node_settings::allow_shared_ip},
    key_spec{"introducer", "enabled", "--introducer,!--no-introducer",
             "serve as an introducer once dial-back shows this node is publicly reachable",
             &node_settings::introducer, rule::none, 0, 0, true},
    key_spec{"introducer", "max_registrations", "--max-registrations",
             "most registrations (peers behind NATs) held at once; more are refused",
             &node_settings::max_registrations, rule::range, 1, 10'000'000, true},
    key_spec{"introducer", "introductions_per_second", "--introductions-per-second",
             "introductions and relay requests served per second, all requesters together",
             &node_settings::introductions_per_second, rule::range, 0.1, 1e7, true},
    key_spec{"introducer", "introductions_per_requester", "--introductions-per-requester",
             "introductions per second for one requester IP", &node_settings::introductions_per_requester,
             rule::range, 0.01, 1e6, true},
    key_spec{"introducer", "introductions_per_subnet", "--introductions-per-subnet",
             "introductions per second for one requester /24 (IPv6: /48)", &node_settings::introductions_per_subnet,
             rule::range, 0.01, 1e6, true},
    key_spec{"introducer", "introductions_per_target", "--introductions-per-target",
             "introductions per second to one registered peer", &node_settings::introductions_per_target,
             rule::range, 0.01, 1e6, true},
    key_spec{"introducer", "introduction_burst", "--introduction-burst",
             "requests a requester or target may make at once before its per-second rate applies",
             &node_settings::introduction_burst, rule::range, 1, 1e6, true},
    key_spec{"relay", "enabled", "--relay,!--no-relay",
             "carry traffic between peers that cannot punch through their NATs (as introducer only)",
             &node_settings::relay, rule::none, 0, 0, true},
    key_spec{"relay", "max_sessions", "--relay-sessions", "most relayed sessions at once",
             &node_settings::relay_max_sessions, rule::range, 1, 1'000'000, true},
    key_spec{"relay", "bytes_per_second", "--relay-bytes-per-second", "relayed bytes per second, all sessions",
             &node_settings::relay_bytes_per_second, rule::range, 1024, 1e12, true},
    key_spec{"relay", "bytes_per_month", "--relay-bytes-per-month",
             "relayed bytes per 30 days, all sessions; then relaying pauses until the period ends; 0: no budget",
             &node_settings::relay_bytes_per_month, rule::range, 0, 1e15, true},
    key_spec{"dht", "storage_bytes", "--dht-storage-bytes",
             "memory for what other DHT nodes store here: 3/4 for announced peers (64 bytes each), 1/4 for BEP 44 "
             "items",
             &node_settings::dht_storage_bytes, rule::range, 64 * 1024, 1e11},
    key_spec{"metrics", "listen", "--metrics",
             "serve Prometheus metrics over HTTP at IP:PORT (e.g. 127.0.0.1:9464; port 0 picks one and logs it); empty: off",
             &node_settings::metrics_listen, rule::endpoint_or_empty},
};

std::string qualified(const key_spec& k) { return std::string(k.table) + "." + k.name; }

std::string first_flag(const key_spec& k) {
    std::string f = k.flags;
    return f.substr(0, f.find(','));
}

std::optional<std::string> check_endpoint(const std::string& text, port_rule rule) {
    std::string error;
    if (parse_endpoint(text, rule, error)) return std::nullopt;
    return fmt::format("\"{}\" is not IP:PORT ({})", text, error);
}

// The problem with a value of `k`, if any, without location.
std::optional<std::string> check_value(const key_spec& k, const node_settings& s) {
    return std::visit(
        [&](auto member) -> std::optional<std::string> {
            const auto& v = s.*member;
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
                const auto d = static_cast<double>(v);
                if (k.check == rule::range && (!std::isfinite(d) || d < k.min || d > k.max))
                    return fmt::format("{} is out of range ({} to {})", v, k.min, k.max);
            } else if constexpr (std::is_same_v<T, std::string>) {
                if (k.check == rule::listen_endpoint) return check_endpoint(v, port_rule::zero_allowed);
                if (k.check == rule::ipv6_setting) return check_ipv6_setting(v);
                if (k.check == rule::endpoint_or_empty && !v.empty()) return check_endpoint(v, port_rule::zero_allowed);
                if (k.check == rule::log_level) {
                    for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"})
                        if (v == level) return std::nullopt;
                    return fmt::format("\"{}\" is not a log level (trace, debug, info, warn, error, critical, off)", v);
                }
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                for (const auto& text : v)
                    if (auto e = check_endpoint(text, port_rule::required_nonzero)) return e;
            }
            return std::nullopt;
        },
        k.field);
}

const char* type_name(const toml::node& n) {
    switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number with a fraction";
    case toml::node_type::boolean: return "true or false";
    case toml::node_type::array: return "a list";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
    }
}

// Stores the TOML value `n` into `s` if it has the key's type; else says what was expected.
std::optional<std::string> assign(const key_spec& k, const toml::node& n, node_settings& s) {
    return std::visit(
        [&](auto member) -> std::optional<std::string> {
            auto& v = s.*member;
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) {
                if (!n.is_boolean()) return fmt::format("expected true or false, got {}", type_name(n));
                v = *n.value<bool>();
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                if (!n.is_integer()) return fmt::format("expected an integer, got {}", type_name(n));
                v = *n.value<std::int64_t>();
            } else if constexpr (std::is_same_v<T, double>) {
                if (!n.is_number()) return fmt::format("expected a number, got {}", type_name(n));
                v = *n.value<double>();
            } else if constexpr (std::is_same_v<T, std::string>) {
                if (!n.is_string()) return fmt::format("expected a string, got {}", type_name(n));
                v = *n.value<std::string>();
            } else {
                const auto* list = n.as_array();
                if (!list) return fmt::format("expected a list of strings, got {}", type_name(n));
                v.clear();
                for (const auto& item : *list) {
                    if (!item.is_string()) return fmt::format("expected a list of strings, found {} in it", type_name(item));
                    v.push_back(*item.value<std::string>());
                }
            }
            return std::nullopt;
        },
        k.field);
}

// One key's value as TOML (toml++ does the quoting).
std::string toml_value(const key_spec& k, const node_settings& s) {
    toml::table t;
    std::visit(
        [&](auto member) {
            const auto& v = s.*member;
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                toml::array a;
                for (const auto& e : v) a.push_back(e);
                t.insert("v", std::move(a));
            } else {
                t.insert("v", v);
            }
        },
        k.field);
    std::ostringstream out;
    out << t;
    auto text = out.str();
    return text.substr(text.find('=') + 2);
}

bool same_value(const key_spec& k, const node_settings& a, const node_settings& b) {
    return std::visit([&](auto member) { return a.*member == b.*member; }, k.field);
}

} // namespace

void add_setting_options(CLI::App& app, node_settings& cli_values) {
    for (const auto& k : keys) {
        const auto help = fmt::format("{} (config: {})", k.help, qualified(k));
        std::visit(
            [&](auto member) {
                auto& v = cli_values.*member;
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, bool>)
                    app.add_flag(k.flags, v, help);
                else
                    app.add_option(k.flags, v, help);
            },
            k.field);
    }
}

void apply_command_line(const CLI::App& app, const node_settings& cli_values, node_settings& out) {
    for (const auto& k : keys)
        if (app.get_option(first_flag(k))->count() > 0)
            std::visit([&](auto member) { out.*member = cli_values.*member; }, k.field);
}

std::optional<std::string> load_config_file(const std::filesystem::path& file, node_settings& out) {
    const auto name = file.string();
    if (!std::ifstream(file)) return fmt::format("{}: cannot read the config file", name);
    toml::table root;
    try {
        root = toml::parse_file(name);
    } catch (const toml::parse_error& e) {
        return fmt::format("{}:{}: {}", name, e.source().begin.line, e.description());
    }
    for (const auto& [table_key, table_node] : root) {
        const auto line = table_node.source().begin.line;
        const auto* table = table_node.as_table();
        if (!table)
            return fmt::format("{}:{}: key '{}' must be inside a table ([node], [introducer], [relay], [dht], [metrics])",
                               name, line, table_key.str());
        if (std::find(tables.begin(), tables.end(), table_key.str()) == tables.end())
            return fmt::format("{}:{}: unknown table [{}] (known: node, introducer, relay, dht, metrics)", name, line,
                               table_key.str());
        for (const auto& [key, value] : *table) {
            const auto value_line = value.source().begin.line;
            const auto* spec = std::find_if(keys.begin(), keys.end(), [&](const key_spec& k) {
                return table_key.str() == k.table && key.str() == k.name;
            });
            if (spec == keys.end())
                return fmt::format("{}:{}: unknown key '{}.{}'", name, value_line, table_key.str(), key.str());
            auto problem = assign(*spec, value, out);
            if (!problem) problem = check_value(*spec, out);
            if (problem) return fmt::format("{}:{}: {}: {}", name, value_line, qualified(*spec), *problem);
        }
    }
    return std::nullopt;
}

std::optional<std::string> validate(const node_settings& s) {
    for (const auto& k : keys)
        if (auto problem = check_value(k, s)) return fmt::format("{}: {}", first_flag(k), *problem);
    return std::nullopt;
}

std::string to_toml(const node_settings& s) {
    const node_settings defaults;
    std::string out = "# overlay-node configuration. Every key may be left out (it then has the default shown)\n"
                      "# and has a command-line twin, which wins over the file.\n";
    for (const auto* table : tables) {
        out += fmt::format("\n[{}]\n", table);
        for (const auto& k : keys) {
            if (std::string_view(k.table) != table) continue;
            out += fmt::format("# {} ({}; default {}{})\n{} = {}\n", k.help, first_flag(k), toml_value(k, defaults),
                               k.reloadable ? "; reloaded on SIGHUP" : "", k.name, toml_value(k, s));
        }
    }
    return out;
}

std::vector<std::string> restart_keys_changed(const node_settings& before, const node_settings& after) {
    std::vector<std::string> changed;
    for (const auto& k : keys)
        if (!k.reloadable && !same_value(k, before, after)) changed.push_back(qualified(k));
    return changed;
}

overlay::introducer_limits introducer_limits_of(const node_settings& s) {
    overlay::introducer_limits l;
    l.enabled = s.introducer;
    l.max_registrations = static_cast<std::size_t>(s.max_registrations);
    l.introductions_per_second = s.introductions_per_second;
    l.per_requester_per_second = s.introductions_per_requester;
    l.per_subnet_per_second = s.introductions_per_subnet;
    l.per_target_per_second = s.introductions_per_target;
    l.burst = s.introduction_burst;
    return l;
}

overlay::relay_limits relay_limits_of(const node_settings& s) {
    overlay::relay_limits l;
    l.enabled = s.relay && s.introducer;
    l.max_sessions = static_cast<std::size_t>(s.relay_max_sessions);
    l.bytes_per_second = static_cast<double>(s.relay_bytes_per_second);
    l.bytes_per_month = static_cast<std::uint64_t>(s.relay_bytes_per_month);
    return l;
}

void apply_storage_budget(std::int64_t bytes, dht::node_config& dht) {
    const auto budget = static_cast<std::size_t>(bytes);
    dht.storage.max_peers = std::max<std::size_t>(1, budget / 4 * 3 / bytes_per_stored_peer);
    // The core's default shape: ten peers per info-hash on average.
    dht.storage.max_torrents = std::max<std::size_t>(1, dht.storage.max_peers / 10);
    dht.items.max_bytes = budget / 4;
    // The item store's default charge is about 1 KiB per item (4096 items in 4 MiB).
    dht.items.max_items = std::max<std::size_t>(1, dht.items.max_bytes / 1024);
}

} // namespace ovl::cli
