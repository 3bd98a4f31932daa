#include "sim/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <span>
#include <stdexcept>

namespace ovl::sim {

namespace {
// IP + UDP headers (IPv4 20 or IPv6 40, plus 8), so bandwidth caps see roughly what a
// wire would carry.
constexpr std::size_t header_bytes_v4 = 28;
constexpr std::size_t header_bytes_v6 = 48;
// Routers between any two sites on the internet: real paths cross 10 to 20, short-TTL
// opening packets (TTL 5) must die among them.
constexpr std::uint8_t transit_hops = 8;
} // namespace

network::network(std::uint64_t seed) : rng_(seed) {
    realms_.emplace_back(); // realm 0: the internet
}

network::~network() = default;

std::uint32_t network::add_node(const node& n, ip_address address) {
    const auto index = static_cast<std::uint32_t>(nodes_.size());
    if (!members_.insert(n.realm, address, index))
        throw std::invalid_argument("address " + address.to_string() + " already in use");
    nodes_.push_back(n);
    alive_.push_back(true);
    addresses_.push_back(address);
    return index;
}

host_id network::add_public_host(ip_address address, const link_params& params) {
    node n;
    n.access = link(params);
    return host_id{add_node(n, address)};
}

nat_id network::add_nat(const nat_config& config, ip_address outside, const link_params& params,
                        std::optional<nat_id> parent) {
    node n;
    n.is_nat = true;
    n.realm = parent ? nodes_[nat_nodes_.at(parent->value)].inner_realm : 0;
    n.inner_realm = static_cast<std::uint32_t>(realms_.size());
    n.nat_index = static_cast<std::uint32_t>(nats_.size());
    n.access = link(params);
    const std::uint32_t index = add_node(n, outside);
    realms_.push_back({index, n.nat_index, n.realm});
    nats_.emplace_back(config, outside);
    firewalls6_.emplace_back();
    nat_nodes_.push_back(index);
    return nat_id{static_cast<std::uint32_t>(nat_nodes_.size() - 1)};
}

host_id network::add_private_host(nat_id inside, ip_address address, const link_params& params) {
    const std::uint32_t gateway = nat_nodes_.at(inside.value);
    node n;
    n.realm = nodes_[gateway].inner_realm;
    n.access = link(params);
    const std::uint32_t index = add_node(n, address);
    // A firewall does not translate: the outside reaches the host's own address through it.
    if (!nats_[nodes_[gateway].nat_index].config().translate) {
        if (!members_.insert(nodes_[gateway].realm, address, gateway))
            throw std::invalid_argument("address " + address.to_string() + " already in use");
    }
    return host_id{index};
}

const network::node& network::host_node(host_id host) const {
    const node& n = nodes_.at(host.value);
    if (n.is_nat) throw std::invalid_argument("not a host id");
    return n;
}

ip_address network::address(host_id host) const {
    host_node(host);
    return addresses_[host.value];
}

nat& network::nat_state(nat_id id) { return nats_[nodes_[nat_nodes_.at(id.value)].nat_index]; }

void network::enable_ipv6(nat_id id, const nat_config& firewall) {
    if (firewall.translate) throw std::invalid_argument("IPv6 has no NAT: the firewall must not translate");
    auto& slot = firewalls6_[nodes_[nat_nodes_.at(id.value)].nat_index];
    if (slot) throw std::invalid_argument("IPv6 already enabled on this NAT");
    slot.emplace(firewall, ip_address{});
}

nat& network::ipv6_firewall_state(nat_id id) {
    auto& slot = firewalls6_[nodes_[nat_nodes_.at(id.value)].nat_index];
    if (!slot) throw std::invalid_argument("IPv6 not enabled on this NAT");
    return *slot;
}

void network::add_ipv6(host_id host, ip_address address) {
    const node& h = host_node(host);
    if (!address.is_v6() || !address.is_global())
        throw std::invalid_argument(address.to_string() + " is not a global IPv6 address");
    if (addresses6_.contains(host.value)) throw std::invalid_argument("host already has an IPv6 address");
    // The address is a member of every realm from the host's out to the internet: of its
    // own as the host, of each outer one as the device in front of it. Check all first,
    // so that a refusal leaves the topology as it was.
    for (std::uint32_t r = h.realm;; r = nodes_[*realms_[r].gateway].realm) {
        if (members_.contains(r, address))
            throw std::invalid_argument("address " + address.to_string() + " already in use");
        if (!realms_[r].gateway) break;
        if (!firewalls6_[nodes_[*realms_[r].gateway].nat_index])
            throw std::invalid_argument("a NAT in front of the host does not forward IPv6 (enable_ipv6)");
    }
    std::uint32_t member = host.value;
    for (std::uint32_t r = h.realm;; r = nodes_[member].realm) {
        members_.insert(r, address, member);
        if (!realms_[r].gateway) break;
        member = *realms_[r].gateway;
    }
    addresses6_.emplace(host.value, address);
}

std::optional<ip_address> network::address6(host_id host) const {
    host_node(host);
    auto it = addresses6_.find(host.value);
    if (it == addresses6_.end()) return std::nullopt;
    return it->second;
}

ip_address network::source_for(std::uint32_t host, const ip_address& to) const {
    if (to.is_v4()) return addresses_[host];
    auto it = addresses6_.find(host);
    return it == addresses6_.end() ? ip_address::v6({}) : it->second;
}

udp_binding& network::bind_udp(host_id host, std::uint16_t port, datagram_core& core) {
    const ip_address address = network::address(host);
    if (ports_.contains(port_key(host.value, port)))
        throw std::invalid_argument(fmt::format("UDP port {} already bound on {}", port, address.to_string()));
    const auto index = static_cast<std::uint32_t>(bindings_.size());
    bindings_.push_back(std::make_unique<udp_binding>(*this, host, endpoint{address, port}, core, index));
    udp_binding& b = *bindings_.back();
    ports_[port_key(host.value, port)] = {&core, &b, 0};
    b.ports_.push_back({0, port});
    service(b);
    return b;
}

void network::poke(udp_binding& binding) {
    if (alive_[binding.host_.value]) service(binding);
}

void network::service(udp_binding& b) {
    const std::uint32_t host = b.host_.value;
    while (auto d = b.core_->poll_transmit()) {
        if (!alive_[host]) continue;
        // The binding holds the host's IPv4 address, so the common case reads no node data.
        endpoint source{d->to.address.is_v4() ? b.local_.address : source_for(host, d->to.address), b.local_.port};
        if (d->from_secondary_port) source.port = secondary_port(source.port);
        else if (d->socket != 0) source.port = extra_port(b, d->socket);
        send(host, protocol::udp, 0, source, d->to, std::move(d->payload), d->ttl != 0 ? d->ttl : packet::default_ttl);
    }
    while (auto released = b.core_->poll_released_socket()) {
        auto it = std::find_if(b.ports_.begin(), b.ports_.end(), [&](const auto& p) { return p.socket == *released; });
        if (it == b.ports_.end()) continue;
        ports_.erase(port_key(host, it->port));
        b.ports_.erase(it);
    }
    const std::optional<timestamp> deadline = b.core_->next_deadline();
    if (deadline == b.scheduled_) return;
    b.scheduled_ = deadline;
    ++b.timer_generation_;
    if (deadline) queue_.push(std::max(*deadline, now_), timer_bit | alloc_timer({b.index_, b.timer_generation_}));
}

// Extra sockets get the lowest free port from 49152 up, like a kernel's ephemeral range
// (deterministic, so a seed replays a run exactly).
std::uint16_t network::extra_port(udp_binding& b, std::uint16_t socket) {
    for (const auto& p : b.ports_)
        if (p.socket == socket) return p.port;
    for (std::uint32_t port = 49152; port <= 65535; ++port) {
        const std::uint64_t key = port_key(b.host_.value, static_cast<std::uint16_t>(port));
        if (!ports_.contains(key)) {
            ports_[key] = {b.core_, &b, socket};
            b.ports_.push_back({socket, static_cast<std::uint16_t>(port)});
            return static_cast<std::uint16_t>(port);
        }
    }
    throw std::runtime_error("simulated host ran out of UDP ports");
}

void network::kill_host(host_id host) {
    host_node(host);
    alive_[host.value] = false;
}

bool network::alive(host_id host) const {
    host_node(host);
    return alive_[host.value];
}

void network::log_to(std::string& sink) {
    log_ = [&sink](std::string_view line) { sink.append(line); };
}

std::uint32_t network::alloc_packet(protocol proto, std::uint8_t flags, const endpoint& src, const endpoint& dst,
                                    bytes payload, std::uint8_t ttl) {
    if (free_packets_.empty()) {
        packets_.emplace_back(proto, flags, src, dst, std::move(payload), ttl);
        return static_cast<std::uint32_t>(packets_.size() - 1);
    }
    const std::uint32_t slot = free_packets_.back();
    free_packets_.pop_back();
    packets_[slot].assign(proto, flags, src, dst, std::move(payload), ttl);
    return slot;
}

void network::send(std::uint32_t from_node, protocol proto, std::uint8_t flags, const endpoint& src,
                   const endpoint& dst, bytes payload, std::uint8_t ttl) {
    ++stats_.sent;
    const std::uint32_t slot = alloc_packet(proto, flags, src, dst, std::move(payload), ttl);
    // An IPv6 packet from a host without an IPv6 address: the host has no route for it.
    if (packets_[slot].src.address.is_unspecified()) return drop(slot, drop_reason::no_route);
    forward(nodes_[from_node].realm, from_node, true, slot);
}

void network::forward(std::uint32_t realm_index, std::uint32_t from, bool from_is_member, std::uint32_t slot) {
    std::uint32_t to;
    bool from_inside;
    if (const std::uint32_t member = members_.find(realm_index, packets_[slot].dst.address);
        member != address_table::none) {
        to = member;
        from_inside = false;
    } else if (const realm& r = realms_[realm_index]; r.gateway) {
        to = *r.gateway;
        from_inside = true;
    } else {
        drop(slot, drop_reason::no_route);
        return;
    }
    // Crossing the internet takes a path through transit routers: a packet whose TTL
    // runs out there never reaches the far side's NAT.
    if (realm_index == 0) {
        if (packets_[slot].ttl <= transit_hops) {
            drop(slot, drop_reason::ttl_expired);
            return;
        }
        packets_[slot].ttl = static_cast<std::uint8_t>(packets_[slot].ttl - transit_hops);
    }
    // Only a realm's members use their access link in it; a gateway reaches its inside
    // without crossing its own uplink. The receiver is a member exactly when it was found
    // in the realm's table, which spares reading a gateway's node here.
    const std::size_t size =
        packets_[slot].payload_size + (packets_[slot].dst.address.is_v6() ? header_bytes_v6 : header_bytes_v4);
    std::optional<timestamp> t = now_;
    if (from_is_member)
        t = nodes_[from].access.traverse(*t, size, link::direction::up, rng_);
    if (t && !from_inside)
        t = nodes_[to].access.traverse(*t, size, link::direction::down, rng_);
    if (!t) {
        drop(slot, drop_reason::loss);
        return;
    }
    packet& p = packets_[slot];
    p.next_node = to;
    p.from_inside = from_inside;
    // Reached from its inside, the gateway of this realm; otherwise a member, whose node
    // the link above just loaded.
    if (from_inside) {
        p.next_nat = realms_[realm_index].gateway_nat;
        p.next_inner_realm = realm_index;
        p.next_outer_realm = realms_[realm_index].gateway_realm;
    } else {
        p.next_nat = nodes_[to].is_nat ? nodes_[to].nat_index : packet::not_a_nat;
        p.next_inner_realm = nodes_[to].inner_realm;
        p.next_outer_realm = nodes_[to].realm;
    }
    queue_.push(*t, slot);
}

void network::drop(std::uint32_t slot, drop_reason why) {
    ++stats_.dropped[static_cast<std::size_t>(why)];
    if (log_) log_packet(fmt::format("drop:{}", to_string(why)), packets_[slot]);
    release_packet(slot);
}

void network::log_packet(std::string_view verdict, const packet& p) {
    log_(fmt::format("{} {} {} {} > {} {}\n", (now_ - epoch).count(), verdict, to_string(p.proto),
                     p.src.to_string(), p.dst.to_string(), p.payload_size));
}

// Each arrival walks a chain of loads, each address read from the one before (packet →
// NAT → mapping → the inside host's port; packet → port slot → core). The next events are
// known in order, so while this one runs the chains of the next five are walked a step
// each: the loads of a step were started one event earlier and have arrived. A packet that
// a NAT lets in usually reaches a host behind it at once (links inside a site cost
// nothing), which answers at once: those events are not queued yet, so what they will read
// is fetched with the NAT's event (the host's port slot and core, its realm, and where the
// remote sits outside). Only hints: nothing here changes state, and an event pushed
// meanwhile changes nothing but what is warm.
void network::prefetch_upcoming() const {
    const std::span<const event> next = queue_.upcoming();
    const auto upcoming_packet = [&](std::size_t i) -> const packet* {
        return i < next.size() && !(next[i].ref & timer_bit) ? &packets_[next[i].ref] : nullptr;
    };
    // Only IPv4 packets are followed through a NAT: IPv6 goes through its firewall.
    const auto nat_of = [&](const packet& p) -> const nat* {
        return p.next_nat != packet::not_a_nat && p.dst.address.is_v4() ? &nats_[p.next_nat] : nullptr;
    };
    if (const packet* p = upcoming_packet(4)) __builtin_prefetch(p);
    if (const packet* p = upcoming_packet(3)) {
        // Its payload is read when it is delivered: next, or right after a NAT lets it in.
        if (p->next_nat == packet::not_a_nat || !p->from_inside)
            __builtin_prefetch(reinterpret_cast<const char*>(p) + 64);
        if (p->next_nat == packet::not_a_nat) {
            ports_.prefetch(port_key(p->next_node, p->dst.port));
            // The core mostly answers: its uplink, and where the sender sits.
            __builtin_prefetch(&nodes_[p->next_node]);
            members_.prefetch(p->next_outer_realm, p->src.address);
        } else if (const nat* t = nat_of(*p)) {
            t->prefetch();
            // The NAT's uplink is read outward now, inward by the host's answer; outward
            // also where the destination sits, inward the host's realm and where the
            // sender sits.
            __builtin_prefetch(&nodes_[p->next_node]);
            if (p->from_inside) {
                members_.prefetch(p->next_outer_realm, p->dst.address);
            } else {
                __builtin_prefetch(&realms_[p->next_inner_realm]);
                members_.prefetch(p->next_outer_realm, p->src.address);
            }
        }
    }
    if (const packet* p = upcoming_packet(2)) {
        std::uint32_t receiver = address_table::none;
        if (p->next_nat == packet::not_a_nat) {
            if (const bound_port* bound = ports_.find(port_key(p->next_node, p->dst.port))) {
                __builtin_prefetch(bound->core);
                __builtin_prefetch(bound->binding);
            }
            receiver = members_.find(p->next_outer_realm, p->src.address);
        } else if (const nat* t = nat_of(*p)) {
            t->prefetch_mapping(p->from_inside);
            if (p->from_inside) {
                receiver = members_.find(p->next_outer_realm, p->dst.address);
            } else {
                const std::uint32_t host = members_.sole_v4_member(p->next_inner_realm);
                if (host != address_table::none) __builtin_prefetch(&nodes_[host]);
                receiver = members_.find(p->next_outer_realm, p->src.address);
            }
        }
        if (receiver != address_table::none) __builtin_prefetch(&nodes_[receiver]);
    }
    // Inward through a NAT to the only host behind it: that host's port slot, then its core.
    const auto inside_port = [&](const packet* p) -> std::optional<std::uint64_t> {
        const nat* t = p ? nat_of(*p) : nullptr;
        if (!t || p->from_inside) return std::nullopt;
        const std::uint32_t host = members_.sole_v4_member(p->next_inner_realm);
        const endpoint* target = t->likely_inbound_target();
        if (host == address_table::none || !target) return std::nullopt;
        return port_key(host, target->port);
    };
    if (const auto key = inside_port(upcoming_packet(1))) ports_.prefetch(*key);
    if (const auto key = inside_port(upcoming_packet(0))) {
        if (const bound_port* bound = ports_.find(*key)) {
            __builtin_prefetch(bound->core);
            __builtin_prefetch(bound->binding);
        }
    }
}

bool network::step() {
    if (queue_.empty()) return false;
    const event e = queue_.pop();
    now_ = e.at;
    prefetch_upcoming();
    if (e.ref & timer_bit) {
        fire_timer(e.ref & ~timer_bit);
    } else {
        ++stats_.events;
        arrive(e.ref);
    }
    return true;
}

std::uint32_t network::alloc_timer(timer t) {
    if (free_timers_.empty()) {
        timers_.push_back(t);
        return static_cast<std::uint32_t>(timers_.size() - 1);
    }
    const std::uint32_t slot = free_timers_.back();
    free_timers_.pop_back();
    timers_[slot] = t;
    return slot;
}

void network::run_until(timestamp until) {
    while (!queue_.empty() && queue_.top().at <= until) step();
    if (now_ < until) now_ = until;
}

void network::fire_timer(std::uint32_t slot) {
    const timer t = timers_[slot];
    free_timers_.push_back(slot);
    udp_binding& b = *bindings_[t.binding];
    if (t.generation != b.timer_generation_ || !alive_[b.host_.value]) return;
    ++stats_.events;
    ++stats_.timers;
    b.scheduled_.reset();
    if (log_) log_(fmt::format("{} timer {}\n", (now_ - epoch).count(), b.local_.to_string()));
    b.core_->on_timeout(now_);
    service(b);
}

void network::arrive(std::uint32_t slot) {
    const packet& p = packets_[slot];
    if (p.next_nat != packet::not_a_nat)
        arrive_at_nat(p.next_node, slot);
    else
        arrive_at_host(p.next_node, slot);
}

// Only a packet leaving the NAT outward loads the NAT's node (for its uplink).
void network::arrive_at_nat(std::uint32_t n, std::uint32_t slot) {
    packet& p = packets_[slot];
    const std::uint32_t inner_realm = p.next_inner_realm;
    // IPv6 reaches a device only where enable_ipv6 gave it a firewall (add_ipv6 checks).
    nat& table = p.dst.address.is_v6() ? *firewalls6_[p.next_nat] : nats_[p.next_nat];
    if (!p.from_inside) {
        // Addressed to the NAT itself: it sees the packet (and may keep state for it)
        // whatever the TTL left; only forwarding it inward uses one up.
        const translation in = table.inbound(now_, p.proto, p.flags, p.src, p.dst);
        if (!in.ok()) return drop(slot, *in.drop);
        if (p.ttl <= 1) return drop(slot, drop_reason::ttl_expired);
        --p.ttl;
        p.dst = in.ep;
        return forward(inner_realm, n, false, slot);
    }
    // A router forwards only what has TTL to spare, and makes no mapping for the rest.
    if (p.ttl <= 1) return drop(slot, drop_reason::ttl_expired);
    --p.ttl;
    const bool hairpin = table.config().translate && p.dst.address == table.external_ip();
    if (hairpin && !table.config().hairpinning) return drop(slot, drop_reason::hairpin_disabled);
    const translation out = table.outbound(now_, p.proto, p.flags, p.src, p.dst, rng_);
    if (!out.ok()) return drop(slot, *out.drop);
    p.src = out.ep;
    if (!hairpin) return forward(p.next_outer_realm, n, true, slot);
    // Hairpinning: the packet turns around with its translated source, as if from outside.
    const translation in = table.inbound(now_, p.proto, p.flags, p.src, p.dst);
    if (!in.ok()) return drop(slot, *in.drop);
    p.dst = in.ep;
    forward(inner_realm, n, false, slot);
}

void network::arrive_at_host(std::uint32_t n, std::uint32_t slot) {
    if (!alive_[n]) return drop(slot, drop_reason::host_dead);
    if (packets_[slot].proto == protocol::udp)
        deliver_udp(n, slot);
    else
        deliver_tcp(n, slot);
}

void network::deliver_udp(std::uint32_t n, std::uint32_t slot) {
    const bound_port* bound = ports_.find(port_key(n, packets_[slot].dst.port));
    if (!bound) return drop(slot, drop_reason::no_listener);
    // Copied: the core's calls may bind ports, which can move the table's entries.
    const bound_port port = *bound;
    ++stats_.delivered;
    if (log_) log_packet("deliver", packets_[slot]);
    // Copy the datagram out first: the core's calls may grow the packet table. A small
    // payload is copied from the packet's own lines, a large one keeps its block.
    const endpoint from = packets_[slot].src;
    std::array<std::uint8_t, packet::inline_capacity> small;
    bytes large;
    bytes_view payload;
    if (packets_[slot].payload_size <= small.size()) {
        const bytes_view in_packet = packets_[slot].payload();
        std::copy(in_packet.begin(), in_packet.end(), small.begin());
        payload = bytes_view(small.data(), in_packet.size());
    } else {
        large = packets_[slot].take_payload();
        payload = large;
    }
    release_packet(slot);
    if (port.socket == 0)
        port.core->on_datagram(now_, from, payload);
    else
        port.core->on_extra_datagram(now_, port.socket, from, payload);
    service(*port.binding);
}

} // namespace ovl::sim
