#include "sim/nat_config.hpp"

#include <array>
#include <stdexcept>
#include <string>

namespace ovl::sim {

namespace {

constexpr std::array<std::string_view, 10> preset_names = {
    "open",      "full-cone", "restricted-cone", "port-restricted-cone", "port-collision", "symmetric",
    "symmetric-sequential", "firewall", "cgnat", "udp-blocked"};

// Approximate shares of peer connectivity; the derivation is in docs/SIMULATOR.md
// (Halkes & Pouwelse 2011 for punchable vs not, Richter et al. 2016 for CGNAT,
// Ford et al. 2005 for endpoint-dependent mapping).
constexpr std::array<weighted_preset, 9> mix = {{
    {"open", 20},
    {"full-cone", 6},
    {"restricted-cone", 10},
    {"port-restricted-cone", 30},
    {"firewall", 4},
    {"cgnat", 14},
    {"symmetric", 9},
    {"symmetric-sequential", 5},
    {"udp-blocked", 2},
}};

} // namespace

std::span<const std::string_view> nat_preset_names() { return preset_names; }

nat_config nat_preset(std::string_view name) {
    nat_config c;
    if (name == "open") {
        c.translate = false;
        c.filtering = filtering_behavior::endpoint_independent;
    } else if (name == "full-cone") {
        c.filtering = filtering_behavior::endpoint_independent;
        c.hairpinning = true;
    } else if (name == "restricted-cone") {
        c.filtering = filtering_behavior::address_dependent;
    } else if (name == "port-restricted-cone") {
        // Linux masquerade: keeps the port when free, filters by address and port.
        c.filtering = filtering_behavior::address_and_port_dependent;
    } else if (name == "port-collision") {
        // Linux masquerade on a router without an input filter: an unsolicited packet
        // to the router takes its tuple, so a punch packet that arrives before our own
        // first packet has left moves our mapping toward that peer to another port.
        c.filtering = filtering_behavior::address_and_port_dependent;
        c.inbound_creates_state = true;
    } else if (name == "symmetric") {
        // Linux masquerade fully-random: a new random port per destination.
        c.mapping = mapping_behavior::address_and_port_dependent;
        c.ports = port_assignment::random;
    } else if (name == "symmetric-sequential") {
        // Old or cheap NATs whose next port is predictable.
        c.mapping = mapping_behavior::address_and_port_dependent;
        c.ports = port_assignment::sequential;
    } else if (name == "firewall") {
        c.translate = false;
    } else if (name == "cgnat") {
        // RFC 6888 asks carrier NATs for endpoint-independent mapping; ports come from a
        // pool, so they are not preserved.
        c.ports = port_assignment::random;
    } else if (name == "udp-blocked") {
        c.udp_blocked = true;
    } else {
        throw std::invalid_argument("unknown NAT preset '" + std::string(name) +
                                    "' (known: open, full-cone, restricted-cone, "
                                    "port-restricted-cone, port-collision, symmetric, symmetric-sequential, "
                                    "firewall, cgnat, udp-blocked, mix)");
    }
    return c;
}

std::span<const weighted_preset> nat_mix() { return mix; }

std::string_view sample_mix(random_source& rng) {
    double total = 0;
    for (const auto& p : mix) total += p.weight;
    double x = rng.unit() * total;
    for (const auto& p : mix) {
        if (x < p.weight) return p.name;
        x -= p.weight;
    }
    return mix.back().name;
}

} // namespace ovl::sim
