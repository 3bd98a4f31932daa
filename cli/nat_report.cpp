#include "cli/nat_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ovl::cli {

using overlay::nat_verdict;

const char* nat_hint(nat_verdict v) {
    switch (v) {
    case nat_verdict::public_open: return "no NAT and no filtering: anyone can reach you, you can serve as an introducer";
    case nat_verdict::firewalled:
        return "public address behind a stateful firewall: peers reach you through introducers and hole punching";
    case nat_verdict::nat_open: return "NAT that lets unsolicited packets in (full cone): direct connections work";
    case nat_verdict::nat_cone:
        return "NAT with one public port for every destination (cone): hole punching works with most peers";
    case nat_verdict::nat_symmetric:
        return "NAT with a new public port per destination (symmetric): punching works only with cone or public "
               "peers; symmetric-to-symmetric needs a relay";
    case nat_verdict::udp_blocked: return "no UDP answers at all: UDP is blocked here, or every bootstrap node is down";
    case nat_verdict::unknown: break;
    }
    return "not enough evidence yet: too few nodes answered (try more --bootstrap nodes or a longer --timeout)";
}

namespace {
std::vector<std::string> endpoint_strings(const std::vector<endpoint>& eps) {
    std::vector<std::string> out;
    for (const auto& e : eps) out.push_back(e.to_string());
    return out;
}
double rounded(double x) { return static_cast<double>(static_cast<long long>(x * 100 + 0.5)) / 100; }
} // namespace

nlohmann::json nat_json(const overlay::nat_profile& p, duration keepalive) {
    return {{"verdict", to_string(p.verdict)},
            {"mapping", to_string(p.mapping)},
            {"ports", to_string(p.ports)},
            {"port_delta", p.port_delta},
            {"reachability", to_string(p.reach)},
            {"public_endpoint", p.public_endpoint ? nlohmann::json(p.public_endpoint->to_string()) : nlohmann::json()},
            {"observed", endpoint_strings(p.observed)},
            {"mapping_samples", p.mapping_samples},
            {"dial_back_requests", p.dial_back_requests},
            {"dial_back_probes", p.dial_back_probes},
            {"confidence", rounded(p.confidence)},
            {"hairpin", nullptr},
            {"mapping_lifetime_s", nullptr},
            {"keepalive_s", static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(keepalive).count())},
            {"hint", nat_hint(p.verdict)},
            {"ipv6",
             {{"reachability", to_string(p.ipv6)},
              {"endpoint", p.ipv6_endpoint ? nlohmann::json(p.ipv6_endpoint->to_string()) : nlohmann::json()}}}};
}

std::string nat_text(const overlay::nat_profile& p, duration keepalive) {
    std::string ports = to_string(p.ports);
    if (p.port_delta != 0) ports += fmt::format(" (delta {:+d})", p.port_delta);
    return fmt::format("verdict:         {}\n"
                       "  meaning:       {}\n"
                       "mapping:         {}, ports {} ({} agreeing observers)\n"
                       "reachability:    {} ({} dial-back helpers answered, {} probes arrived)\n"
                       "public endpoint: {}\n"
                       "observed as:     {}\n"
                       "confidence:      {:.0f}%\n"
                       "hairpin:         not measured\n"
                       "mapping lifetime: not measured (keepalive every {} s, a safe default)\n"
                       "ipv6:            {}{}",
                       to_string(p.verdict), nat_hint(p.verdict), to_string(p.mapping), ports, p.mapping_samples,
                       to_string(p.reach), p.dial_back_requests, p.dial_back_probes,
                       p.public_endpoint ? p.public_endpoint->to_string() : "none agreed on",
                       p.observed.empty() ? "nobody" : fmt::format("{}", fmt::join(endpoint_strings(p.observed), ", ")),
                       p.confidence * 100, std::chrono::duration_cast<std::chrono::seconds>(keepalive).count(),
                       to_string(p.ipv6), p.ipv6_endpoint ? " at " + p.ipv6_endpoint->to_string() : std::string());
}

} // namespace ovl::cli
