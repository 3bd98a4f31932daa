#include "sim/nat.hpp"

#include <algorithm>

namespace ovl::sim {

nat::nat(const nat_config& config, ip_address external_ip)
    : config_(config), external_ip_(external_ip) {}

endpoint nat::remote_key(const endpoint& dst) const {
    // A firewall keeps addresses, so one mapping per internal endpoint is all it can have.
    if (!config_.translate) return {};
    switch (config_.mapping) {
    case mapping_behavior::endpoint_independent: return {};
    case mapping_behavior::address_dependent: return {dst.address, 0};
    case mapping_behavior::address_and_port_dependent: return dst;
    }
    return dst;
}

duration nat::timeout(protocol proto, const mapping& m) const {
    if (proto == protocol::udp) return config_.udp_timeout;
    return m.established ? config_.tcp_established_timeout : config_.tcp_transitory_timeout;
}

nat::mapping* nat::find(const flow_index& index, last_found& last, const flow_key& key, timestamp now) {
    if (last.id == last_found::none || !(last.key == key)) {
        const std::uint32_t* found = index.find(key);
        if (!found) return nullptr;
        last = {key, *found};
    }
    const std::uint32_t id = last.id;
    if (now >= mappings_[id].expires) {
        remove(id);
        return nullptr;
    }
    return &mappings_[id];
}

nat::mapping& nat::create(timestamp now, const flow_key& key, const endpoint& src,
                          std::uint16_t port) {
    if (live_count_ >= sweep_at_) sweep(now);
    std::uint32_t id;
    if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
    } else {
        id = static_cast<std::uint32_t>(mappings_.size());
        mappings_.emplace_back();
    }
    mapping& m = mappings_[id];
    m = mapping{};
    m.key = key;
    m.internal = src;
    m.external_port = port;
    m.live = true;
    m.expires = now;
    by_flow_[key] = id;
    by_external_[flow_key{key.proto, false, external_of(m), {}}] = id;
    if (key.exact) ++exact_count_;
    ++live_count_;
    return m;
}

void nat::remove(std::uint32_t id) {
    if (last_by_flow_.id == id) last_by_flow_ = {};
    if (last_by_external_.id == id) last_by_external_ = {};
    mapping& m = mappings_[id];
    by_flow_.erase(m.key);
    by_external_.erase(flow_key{m.key.proto, false, external_of(m), {}});
    if (m.key.exact) --exact_count_;
    m = mapping{};
    free_.push_back(id);
    --live_count_;
}

bool nat::tuple_held(timestamp now, protocol proto, const endpoint& external,
                     const endpoint& remote) {
    if (held_tuples_.empty()) return false;
    const flow_key key{proto, true, external, remote};
    const timestamp* until = held_tuples_.find(key);
    if (!until) return false;
    if (now < *until) return true;
    held_tuples_.erase(key);
    return false;
}

bool nat::port_free(timestamp now, protocol proto, std::uint16_t port, const endpoint& dst) {
    const endpoint ext{external_ip_, port};
    if (find(by_external_, last_by_external_, flow_key{proto, false, ext, {}}, now)) return false;
    return !tuple_held(now, proto, ext, dst);
}

std::optional<std::uint16_t> nat::allocate_port(timestamp now, protocol proto, const endpoint& src,
                                                const endpoint& dst, bool allow_preserve,
                                                random_source& rng) {
    const std::uint32_t lo = config_.port_min;
    const std::uint32_t span = std::uint32_t(config_.port_max) - lo + 1;
    if (config_.ports == port_assignment::preserving && allow_preserve &&
        port_free(now, proto, src.port, dst))
        return src.port;
    if (config_.ports == port_assignment::sequential) {
        if (next_sequential_ == 0) next_sequential_ = lo + static_cast<std::uint32_t>(rng.uniform(span));
        const std::uint32_t step = static_cast<std::uint32_t>(std::max(1, config_.port_delta));
        for (std::uint32_t i = 0; i < span; ++i) {
            const auto port = static_cast<std::uint16_t>(next_sequential_);
            next_sequential_ = lo + (next_sequential_ - lo + step) % span;
            if (port_free(now, proto, port, dst)) return port;
        }
        return std::nullopt;
    }
    // Random (RFC 6056), also the fallback when the preserved port is taken.
    for (int tries = 0; tries < 32; ++tries) {
        const auto port = static_cast<std::uint16_t>(lo + rng.uniform(span));
        if (port_free(now, proto, port, dst)) return port;
    }
    const std::uint32_t start = static_cast<std::uint32_t>(rng.uniform(span));
    for (std::uint32_t i = 0; i < span; ++i) {
        const auto port = static_cast<std::uint16_t>(lo + (start + i) % span);
        if (port_free(now, proto, port, dst)) return port;
    }
    return std::nullopt;
}

endpoint nat::permit_key(const endpoint& remote) const {
    return config_.filtering == filtering_behavior::address_dependent ? endpoint{remote.address, 0} : remote;
}

bool nat::set_permit(mapping& m, const endpoint& remote, timestamp until) {
    if (m.has_first_permit() && m.first_permit == remote) {
        m.first_permit_until = until;
        return false;
    }
    if (timestamp* t = m.more_permits.find(remote)) {
        *t = until;
        return false;
    }
    if (!m.has_first_permit()) {
        m.first_permit = remote;
        m.first_permit_until = until;
    } else {
        m.more_permits[remote] = until;
    }
    return true;
}

const timestamp* nat::find_permit(const mapping& m, const endpoint& remote) {
    if (m.has_first_permit() && m.first_permit == remote) return &m.first_permit_until;
    return m.more_permits.find(remote);
}

void nat::permit(timestamp now, protocol proto, mapping& m, const endpoint& remote) {
    if (config_.filtering == filtering_behavior::endpoint_independent) return;
    // Every call leaves the count at most prune_at, so only a new remote can pass it.
    if (!set_permit(m, permit_key(remote), now + timeout(proto, m)) || m.permits() <= m.prune_at) return;
    // Forget the permissions that lapsed by now.
    if (m.has_first_permit() && m.first_permit_until <= now) m.first_permit_until = timestamp{};
    m.more_permits.erase_if([&](const endpoint&, timestamp until) { return until <= now; });
    m.prune_at = std::max<std::size_t>(64, 2 * m.permits());
}

bool nat::permitted(timestamp now, const mapping& m, const endpoint& remote) const {
    if (config_.filtering == filtering_behavior::endpoint_independent) return true;
    const timestamp* until = find_permit(m, permit_key(remote));
    return until && now < *until;
}

void nat::track_tcp(mapping& m, std::uint8_t flags, bool outbound) {
    if (flags & tcp_flag::rst) {
        m.established = false;
        return;
    }
    if (flags & tcp_flag::syn) (outbound ? m.saw_syn_out : m.saw_syn_in) = true;
    // RFC 5382: established once SYNs have passed in both directions.
    if (m.saw_syn_out && m.saw_syn_in) m.established = true;
}

translation nat::outbound(timestamp now, protocol proto, std::uint8_t flags, const endpoint& src,
                          const endpoint& dst, random_source& rng) {
    if (proto == protocol::udp && config_.udp_blocked) return {{}, drop_reason::udp_blocked};

    const flow_key exact_key{proto, true, src, dst};
    mapping* m = exact_count_ > 0 ? find(by_flow_, last_by_flow_, exact_key, now) : nullptr;
    if (!m) {
        const flow_key key{proto, false, src, remote_key(dst)};
        m = find(by_flow_, last_by_flow_, key, now);
        if (m && config_.translate && tuple_held(now, proto, external_of(*m), dst)) {
            // Port collision: conntrack already holds (external, dst) from an unsolicited
            // inbound packet, so this destination gets a mapping of its own on another port.
            auto port = allocate_port(now, proto, src, dst, false, rng);
            if (!port) return {{}, drop_reason::no_mapping};
            m = &create(now, exact_key, src, *port);
        } else if (!m) {
            std::uint16_t port = src.port;
            if (config_.translate) {
                auto p = allocate_port(now, proto, src, dst, true, rng);
                if (!p) return {{}, drop_reason::no_mapping};
                port = *p;
            }
            m = &create(now, key, src, port);
        }
    }
    if (proto == protocol::tcp) track_tcp(*m, flags, true);
    m->expires = now + timeout(proto, *m);
    permit(now, proto, *m, dst);
    return {external_of(*m), std::nullopt};
}

void nat::note_unsolicited(timestamp now, protocol proto, const endpoint& src, const endpoint& dst) {
    if (!config_.inbound_creates_state || !config_.translate) return;
    const duration hold =
        proto == protocol::udp ? config_.udp_timeout : config_.tcp_transitory_timeout;
    held_tuples_[flow_key{proto, true, dst, src}] = now + hold;
}

translation nat::inbound(timestamp now, protocol proto, std::uint8_t flags, const endpoint& src,
                         const endpoint& dst) {
    if (proto == protocol::udp && config_.udp_blocked) return {{}, drop_reason::udp_blocked};
    // Without translation, endpoint-independent filtering means no filter at all ("open").
    if (!config_.translate && config_.filtering == filtering_behavior::endpoint_independent)
        return {dst, std::nullopt};
    mapping* m = find(by_external_, last_by_external_, flow_key{proto, false, dst, {}}, now);
    if (!m) {
        note_unsolicited(now, proto, src, dst);
        return {{}, drop_reason::no_mapping};
    }
    if (!permitted(now, *m, src)) {
        note_unsolicited(now, proto, src, dst);
        return {{}, drop_reason::nat_filtered};
    }
    if (proto == protocol::tcp) track_tcp(*m, flags, false);
    // TCP state changes (established, reset) re-arm the timer; other traffic only if asked.
    const bool tcp_transition = proto == protocol::tcp && (flags & (tcp_flag::syn | tcp_flag::rst));
    if (config_.inbound_refresh || tcp_transition) m->expires = now + timeout(proto, *m);
    if (config_.inbound_refresh) permit(now, proto, *m, src);
    return {m->internal, std::nullopt};
}

std::size_t nat::live_mappings(timestamp now) const {
    return static_cast<std::size_t>(std::count_if(mappings_.begin(), mappings_.end(), [&](const mapping& m) {
        return m.live && now < m.expires;
    }));
}

void nat::sweep(timestamp now) {
    for (std::uint32_t id = 0; id < mappings_.size(); ++id)
        if (mappings_[id].live && now >= mappings_[id].expires) remove(id);
    held_tuples_.erase_if([&](const flow_key&, timestamp until) { return until <= now; });
    sweep_at_ = std::max<std::size_t>(1024, 2 * live_count_);
}

} // namespace ovl::sim
