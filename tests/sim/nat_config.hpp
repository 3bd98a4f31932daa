// The behaviour of one NAT or stateful firewall, knob by knob, in RFC 4787 (UDP) and
// RFC 5382 (TCP) vocabulary, plus the named presets the field uses.
#pragma once

#include "dht/base/random.hpp"
#include "dht/base/time.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ovl::sim {

using namespace std::chrono_literals;

// Which destinations share one external port (RFC 4787 section 4.1).
enum class mapping_behavior { endpoint_independent, address_dependent, address_and_port_dependent };
// Which remotes may send in through a mapping (RFC 4787 section 5).
enum class filtering_behavior { endpoint_independent, address_dependent, address_and_port_dependent };
// How the external port of a new mapping is chosen (RFC 4787 section 4.2).
enum class port_assignment { preserving, sequential, random };

struct nat_config {
    // false: a stateful firewall; addresses and ports pass unchanged, only filtering applies.
    bool translate = true;
    mapping_behavior mapping = mapping_behavior::endpoint_independent;
    filtering_behavior filtering = filtering_behavior::address_and_port_dependent;
    port_assignment ports = port_assignment::preserving;
    // Step between consecutive ports for port_assignment::sequential.
    int port_delta = 1;
    std::uint16_t port_min = 1024;
    std::uint16_t port_max = 65535;

    duration udp_timeout = 120s;               // RFC 4787 REQ-5 minimum; 300 s recommended
    duration tcp_established_timeout = 7440s;  // RFC 5382 REQ-5: 2 h 4 min
    duration tcp_transitory_timeout = 240s;    // RFC 5382 REQ-5: 4 min
    // RFC 4787 REQ-6: outbound traffic refreshes a mapping; inbound refresh is optional.
    bool inbound_refresh = false;
    // RFC 4787 REQ-9 asks for hairpinning; many home routers do not do it.
    bool hairpinning = false;
    // Linux conntrack on a router without an input filter: an unsolicited inbound packet to
    // the NAT's own address creates state on that exact tuple, so a later outbound mapping
    // toward that remote cannot reuse the port and gets another one.
    bool inbound_creates_state = false;
    // Drops all UDP in both directions (networks that allow only TCP).
    bool udp_blocked = false;
};

// Names accepted by nat_preset(): open, full-cone, restricted-cone, port-restricted-cone,
// port-collision, symmetric, symmetric-sequential, firewall, cgnat, udp-blocked.
std::span<const std::string_view> nat_preset_names();
// The configuration a preset names; throws std::invalid_argument on an unknown name.
// "open" is a firewall that filters nothing; "cgnat" is the carrier-grade device (a site
// built with add_site("cgnat") also puts a home NAT behind it).
nat_config nat_preset(std::string_view name);

struct weighted_preset {
    std::string_view name;
    double weight;
};
// The population the "mix" preset samples from; see docs/SIMULATOR.md for its sources.
std::span<const weighted_preset> nat_mix();
// One preset name drawn from nat_mix().
std::string_view sample_mix(random_source& rng);

} // namespace ovl::sim
