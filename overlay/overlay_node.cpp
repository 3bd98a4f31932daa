// overlay_node: construction, the datagram demux, timers and the role a node takes
// (introducer or registrant) from what it learned about its NAT. Connection setup,
// streams, relaying and contact records live in the overlay_node_*.cpp files.
#include "overlay/overlay_node.hpp"
#include "overlay/overlay_node_internal.hpp"

#include "dht/krpc/compact.hpp"
#include "overlay/dht_id.hpp"
#include "overlay/methods.hpp"
#include "overlay/wire_tags.hpp"

#include <algorithm>

namespace ovl::overlay {

const char* to_string(path_kind p) {
    switch (p) {
    case path_kind::lan: return "lan";
    case path_kind::udp: return "udp";
    case path_kind::tcp: return "tcp";
    case path_kind::relay: return "relay";
    }
    return "udp";
}

namespace {
dht::node_config with_identity(dht::node_config c, const identity& self) {
    c.id = dht_id_for(self.public_key_bytes());
    return c;
}
} // namespace

overlay_node::overlay_node(overlay_config config, identity self, random_source rng, logger_ptr log, timestamp now)
    : config_(std::move(config)),
      self_(std::move(self)),
      log_(std::move(log)),
      dht_(with_identity(config_.dht, self_), std::move(rng), log_, now),
      mapping_(config_.local),
      prober_(dht_, config_.dial_back_helpers, config_.dial_back_wait, config_.reachability_interval, log_,
              primary_family()),
      prober6_(dht_, config_.dial_back_helpers, config_.dial_back_wait, config_.reachability_interval, log_, ip_family::v6),
      service_(dht_, config_.introducer, config_.relay, config_.registration_ttl, dht_.rng(), log_, now,
               [this] { return serving_; }),
      dial_back_(dht_, [this](outgoing_datagram d) { raw_out_.push_back(std::move(d)); }, log_),
      client_(dht_, self_,
              introducer_client::settings{config_.introducers_wanted, config_.keepalive_interval, config_.lan,
                                          primary_family()},
              log_),
      sent_to_(dht_.rng()) {
    dht_.set_observed_address_listener([this](timestamp, const endpoint& reporter, const dht::node_id&,
                                              const endpoint& observed) {
        // A dual-stack peer's NAT is its IPv4 side's; IPv6 observations only tell its address.
        if (primary_family() == ip_family::v4 && (observed.address.is_v6() || reporter.address.is_v6())) {
            if (observed.address.is_v6() && observed.address.is_global() && config_.local6) observed6_ = observed;
            return;
        }
        mapping_.observe(reporter.address, observed, sent_to_.first_write(reporter.address).value_or(~std::uint64_t{0}));
    });
    dht_.register_query(method::introduction, [this](timestamp t, const endpoint& from, const krpc::message& q) {
        return on_introduction(t, from, q);
    });
}

void overlay_node::start(timestamp now) {
    if (started_) return;
    started_ = true;
    log_->info("overlay peer {} starting", self_.peer_id());
    if (config_.assumed_reachability) {
        joined_ = true;
        dht_.set_read_only(*config_.assumed_reachability != reachability::reachable);
        join_dht(now);
        update_role(now);
        return;
    }
    // Reachability first, while the bootstrap nodes are the only IPs we have written
    // to: the probers they pick are then strangers to us, which is what tests filtering.
    prober_.on_round_end([this](timestamp t) {
        if (joined_) return;
        joined_ = true;
        // Until now we asked as a read-only node, so that a NATed peer never lands in
        // the helpers' routing tables (where others would wait on it in vain).
        if (prober_.verdict() != reachability::unreachable) dht_.set_read_only(false);
        join_dht(t);
    });
    if (config_.dht.bootstrap.empty()) {
        joined_ = true;
        join_dht(now);
        return;
    }
    // Each family's round asks the bootstrap nodes of that family: a helper can only have
    // probes sent to the address it sees us at.
    std::vector<endpoint> helpers;
    std::vector<endpoint> helpers6;
    std::vector<ip_address> contacted;
    for (const auto& ep : config_.dht.bootstrap) {
        contacted.push_back(ep.address);
        (ep.address.family() == primary_family() ? helpers : helpers6).push_back(ep);
    }
    dht_.set_read_only(true);
    prober_.start_round(now, helpers, contacted);
    // IPv6 is tested on its own (a firewall filters it apart), at once where there are
    // IPv6 bootstrap nodes, else after the join.
    if (config_.local6 && !helpers6.empty()) prober6_.start_round(now, helpers6, contacted);
}

void overlay_node::join_dht(timestamp now) {
    dht_.bootstrap(now, [this](timestamp t, std::size_t known) {
        in_dht_ = true;
        const bool asked_someone = !config_.dht.bootstrap.empty() || !config_.dht.saved_nodes.empty();
        if (!udp_answered_ && asked_someone) {
            bootstrap_silent_ = true;
            log_->warn("no DHT node answered over UDP: UDP is blocked here, or the bootstrap nodes are down");
        } else if (asked_someone) {
            log_->info("DHT joined: {} nodes known", known);
        }
        // Rounds repeat until conclusive, so a node that joins late (or alone, until
        // others find it) still learns its reachability.
        if (reach() == reachability::unknown) prober_.start_round(t, {}, {});
        if (config_.local6 && !config_.assumed_reachability && prober6_.verdict() == reachability::unknown)
            prober6_.start_round(t, {}, {});
    });
}

void overlay_node::send_raw(const endpoint& to, bytes payload, std::uint16_t socket) {
    outgoing_datagram d{to, std::move(payload)};
    d.socket = socket;
    raw_out_.push_back(std::move(d));
}

void overlay_node::on_punch_datagram(timestamp now, const endpoint& from, bytes_view payload, std::uint16_t socket) {
    const auto sid = punch_session::session_of(payload);
    if (!sid) return;
    // Probes are answered statelessly: an ack is no bigger than the probe, and it lets a
    // peer whose introduction is still on its way through see the path open.
    if (payload[0] == tag::punch_probe) send_raw(from, punch_session::ack(*sid), socket);
    if (auto it = punches_.find(*sid); it != punches_.end()) it->second.session->on_reply(now, from, socket);
}

void overlay_node::on_datagram(timestamp now, const endpoint& from, bytes_view payload) {
    now_ = now;
    if (payload.empty()) return;
    const auto first = payload[0];
    if (first == tag::krpc) {
        udp_answered_ = true;
        dht_.on_datagram(now, from, payload);
    } else if (first == tag::punch_probe || first == tag::punch_ack) {
        on_punch_datagram(now, from, payload, 0);
    } else if (first >= tag::stream_first && first <= tag::stream_last) {
        on_stream_datagram(now, from, payload);
    } else if (first == tag::relay_first) {
        on_relay_frame(now, from, payload);
    } else if (first == tag::dial_back && payload.size() == 9) {
        // A probe from an endpoint we have written to proves nothing about filtering.
        if (!sent_to_.contains(from))
            (from.address.family() == primary_family() ? prober_ : prober6_).on_probe(now, from, {reinterpret_cast<const char*>(payload.data() + 1), 8},
                             sent_to_.contains(from.address));
    }
    service_punches(now);
    service_streams(now);
    update_role(now);
    maybe_publish_record(now);
}

void overlay_node::on_extra_datagram(timestamp now, std::uint16_t socket, const endpoint& from, bytes_view payload) {
    now_ = now;
    if (payload.empty() || !sockets_in_use_.contains(socket)) return;
    const auto first = payload[0];
    if (first == tag::punch_probe || first == tag::punch_ack)
        on_punch_datagram(now, from, payload, socket);
    else if (first >= tag::stream_first && first <= tag::stream_last)
        on_stream_datagram(now, from, payload, std::nullopt, socket);
    service_punches(now);
    service_streams(now);
}

std::optional<std::uint16_t> overlay_node::poll_released_socket() {
    if (released_sockets_.empty()) return std::nullopt;
    const auto n = released_sockets_.front();
    released_sockets_.pop_front();
    return n;
}

std::optional<std::uint16_t> overlay_node::allocate_sockets(std::uint16_t count) {
    constexpr std::uint32_t last = 65535;
    // A free block after the last one handed out (wrapping once), so that a number is
    // not reused soon after its release.
    std::uint32_t first = next_socket_;
    for (int wraps = 0; wraps < 2 && count > 0;) {
        if (first + count - 1 > last) {
            first = 1;
            ++wraps;
            continue;
        }
        auto clash = sockets_in_use_.lower_bound(static_cast<std::uint16_t>(first));
        if (clash == sockets_in_use_.end() || *clash >= first + count) {
            for (std::uint32_t n = first; n < first + count; ++n) sockets_in_use_.insert(static_cast<std::uint16_t>(n));
            next_socket_ = static_cast<std::uint16_t>(first + count > last ? 1 : first + count);
            return static_cast<std::uint16_t>(first);
        }
        first = *clash + 1u;
    }
    return std::nullopt;
}

void overlay_node::release_socket(std::uint16_t socket) {
    if (socket == 0 || sockets_in_use_.erase(socket) == 0) return;
    sockets_awaiting_stream_.erase(socket);
    released_sockets_.push_back(socket);
}

std::optional<outgoing_datagram> overlay_node::poll_transmit() {
    std::optional<outgoing_datagram> d;
    if (!raw_out_.empty()) {
        d = std::move(raw_out_.front());
        raw_out_.pop_front();
    } else {
        d = dht_.poll_transmit();
    }
    if (d && !d->from_secondary_port && d->socket == 0) sent_to_.record(d->to);
    return d;
}

std::optional<timestamp> overlay_node::next_deadline() const {
    std::optional<timestamp> next = dht_.next_deadline();
    auto consider = [&](std::optional<timestamp> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    consider(prober_.next_deadline());
    consider(prober6_.next_deadline());
    consider(client_.next_deadline());
    // Once published, a record is renewed on schedule; the first one follows elections.
    if (client_.running() && !published_introducers_.empty()) consider(next_record_);
    for (const auto& [sid, p] : punches_) consider(p.session->next_deadline());
    for (const auto& r : reminders_) consider(r.at);
    for (const auto& [socket, until] : sockets_awaiting_stream_) consider(until);
    for (const auto& [sid, p] : tcp_punches_) consider(p.deadline + tcp_report_grace);
    for (const auto& [id, c] : connections_) {
        consider(c.stream->next_deadline());
        if (c.finished) consider(c.finished_at + connection_linger);
    }
    return next;
}

void overlay_node::on_timeout(timestamp now) {
    now_ = now;
    dht_.on_timeout(now);
    prober_.on_timeout(now);
    prober6_.on_timeout(now);
    service_.on_timeout(now);
    if (client_.running()) tell_introducers_our_nat();
    client_.on_timeout(now);
    maybe_publish_record(now);
    for (auto& [sid, p] : punches_) p.session->on_timeout(now);
    for (auto& [id, c] : connections_) c.stream->on_timeout(now);
    std::vector<std::uint16_t> unclaimed;
    for (const auto& [socket, until] : sockets_awaiting_stream_)
        if (now >= until) unclaimed.push_back(socket);
    for (auto socket : unclaimed) release_socket(socket);
    std::vector<std::string> unreported;
    for (const auto& [sid, p] : tcp_punches_)
        if (now >= p.deadline + tcp_report_grace) unreported.push_back(sid);
    for (const auto& sid : unreported) on_tcp_punch_result(now, sid, false);
    run_reminders(now);
    service_punches(now);
    service_streams(now);
    update_role(now);
}

void overlay_node::remind(timestamp first, duration every, int times, std::function<bool(timestamp)> fire) {
    reminders_.push_back({first, every, times, std::move(fire)});
}

void overlay_node::run_reminders(timestamp now) {
    // Fired from a copy: a reminder may add another one.
    std::vector<reminder> due;
    std::erase_if(reminders_, [&](reminder& r) {
        if (now < r.at) return false;
        due.push_back(std::move(r));
        return true;
    });
    for (auto& r : due) {
        if (!r.fire(now) || --r.times <= 0) continue;
        r.at = now + r.every;
        reminders_.push_back(std::move(r));
    }
}

reachability overlay_node::reach() const { return config_.assumed_reachability.value_or(prober_.verdict()); }

void overlay_node::update_role(timestamp now) {
    if (!started_) return;
    const auto verdict = reach();
    const bool serve = verdict == reachability::reachable &&
                       (config_.assumed_reachability || now - prober_.verdict_since() >= config_.introducer_after);
    if (serve != serving_) {
        serving_ = serve;
        log_->info(serve ? "publicly reachable: serving as introducer" : "no longer serving as introducer");
    }
    if (verdict == reachability::reachable) {
        dht_.set_read_only(false);
        if (client_.running()) client_.stop();
    } else if (verdict == reachability::unreachable) {
        dht_.set_read_only(true);
        if (!client_.running()) {
            log_->info("not reachable from outside ({}): electing introducers", to_string(profile().verdict));
            tell_introducers_our_nat();
            client_.start(now);
        }
    }
}

void overlay_node::tell_introducers_our_nat() {
    // What the registrations carry, refreshed as observations come in: requesters plan
    // their punch (many-socket or not, predicted ports) on it, and so do we on theirs, so
    // both sides must read the same verdict (punch_verdict, not the raw one).
    const auto p = profile();
    client_.set_nat_label(to_string(punch_verdict(p)));
    client_.set_port_delta(p.ports == port_behaviour::sequential ? p.port_delta : 0);
    client_.set_ipv6_endpoint(p.ipv6_endpoint);
}

std::optional<endpoint> overlay_node::ipv6_endpoint() const {
    // Only once an IPv6 node has answered (observed6_ is set only with an IPv6 socket):
    // IPv6 that is configured but blocked or unrouted would make every peer we meet wait
    // out punch_ipv6_grace for nothing.
    return observed6_;
}

nat_profile overlay_node::profile() const {
    nat_profile p;
    p.mapping = mapping_.mapping();
    p.ports = mapping_.ports();
    p.port_delta = mapping_.port_delta();
    p.reach = reach();
    p.mapping_samples = mapping_.agreeing_samples();
    p.dial_back_requests = prober_.last_requests();
    p.dial_back_probes = prober_.last_probes();
    p.public_endpoint = mapping_.public_endpoint();
    p.observed = mapping_.distinct_observed();
    const bool reachable = p.reach == reachability::reachable;
    switch (p.mapping) {
    case mapping_behaviour::none:
        p.verdict = reachable ? nat_verdict::public_open : nat_verdict::firewalled;
        break;
    case mapping_behaviour::endpoint_independent:
        // Probes that only came from IPs we had written to mean address-dependent
        // filtering (restricted cone): reachable enough to introduce, but filtered.
        p.verdict = reachable && prober_.open_to_strangers() ? nat_verdict::nat_open : nat_verdict::nat_cone;
        break;
    case mapping_behaviour::endpoint_dependent:
        p.verdict = nat_verdict::nat_symmetric;
        break;
    case mapping_behaviour::unknown:
        p.verdict = nat_verdict::unknown;
        break;
    }
    if (p.reach == reachability::unknown && p.verdict != nat_verdict::nat_symmetric) p.verdict = nat_verdict::unknown;
    if (bootstrap_silent_ && !udp_answered_) p.verdict = nat_verdict::udp_blocked;
    // Confidence grows with agreeing observers and conclusive dial-back rounds.
    const double mapping_conf = std::min(1.0, p.mapping_samples / 4.0);
    const double reach_conf = p.reach == reachability::unknown ? 0.0 : std::min(1.0, prober_.rounds() / 2.0);
    p.confidence = p.verdict == nat_verdict::unknown ? 0.0 : std::min(mapping_conf, std::max(reach_conf, 0.5));
    if (p.verdict == nat_verdict::udp_blocked) p.confidence = 0.5;
    p.ipv6_endpoint = ipv6_endpoint();
    if (p.ipv6_endpoint)
        p.ipv6 = prober6_.verdict() == reachability::reachable ? ipv6_reachability::open : ipv6_reachability::firewalled;
    return p;
}

} // namespace ovl::overlay
