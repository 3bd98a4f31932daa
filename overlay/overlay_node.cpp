#include "overlay/overlay_node.hpp"

#include "dht/bencode/decode.hpp"
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
    case path_kind::relay: return "relay";
    }
    return "udp";
}

namespace {
// Finished connections stay a little, so final acknowledgements still find them.
constexpr auto linger = std::chrono::seconds(5);
constexpr std::size_t max_connections = 1024;

dht::node_config with_identity(dht::node_config c, const identity& self) {
    c.id = dht_id_for(self.public_key_bytes());
    return c;
}
} // namespace

struct overlay_node::connect_attempt {
    public_key target;
    dht::node_id target_id;
    std::string sid;
    std::vector<dht::contact> introducers;
    std::size_t next = 0;
    timestamp started;
    connect_callback done;
    bool finished = false;
    std::string last_error = "no overlay introducer holds a registration for this peer";
    // The introducer that answered, and its token for us (a relay request reuses it).
    std::optional<dht::contact> introducer;
    std::string token;
};

overlay_node::overlay_node(overlay_config config, identity self, random_source rng, logger_ptr log, timestamp now)
    : config_(std::move(config)),
      self_(std::move(self)),
      log_(std::move(log)),
      dht_(with_identity(config_.dht, self_), std::move(rng), log_, now),
      mapping_(config_.local),
      prober_(dht_, config_.dial_back_helpers, config_.dial_back_wait, config_.reachability_interval, log_),
      service_(dht_, config_.introducer, config_.relay, config_.registration_ttl, dht_.rng(), log_, now,
               [this] { return serving_; }),
      dial_back_(dht_, [this](outgoing_datagram d) { raw_out_.push_back(std::move(d)); }, log_),
      client_(dht_, self_, introducer_client::settings{config_.introducers_wanted, config_.keepalive_interval, config_.lan},
              log_) {
    dht_.set_observed_address_listener([this](timestamp, const endpoint& reporter, const dht::node_id&,
                                              const endpoint& observed) {
        auto it = sent_to_ips_.find(reporter.address);
        mapping_.observe(reporter.address, observed, it == sent_to_ips_.end() ? ~std::uint64_t{0} : it->second);
    });
    dht_.register_query(method::introduction, [this](timestamp t, const endpoint& from, const krpc::message& q) {
        return on_introduction(t, from, q);
    });
}

void overlay_node::set_local(const endpoint& local) {
    config_.local = local;
    mapping_.set_local(local);
}

void overlay_node::start(timestamp now) {
    if (started_) return;
    started_ = true;
    log_->info("overlay peer {} starting", self_.peer_id());
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
    std::vector<ip_address> contacted;
    for (const auto& ep : config_.dht.bootstrap) contacted.push_back(ep.address);
    dht_.set_read_only(true);
    prober_.start_round(now, config_.dht.bootstrap, contacted);
}

void overlay_node::join_dht(timestamp now) {
    dht_.bootstrap(now, [this](timestamp t, std::size_t known) {
        const bool asked_someone = !config_.dht.bootstrap.empty() || !config_.dht.saved_nodes.empty();
        if (!udp_answered_ && asked_someone) {
            bootstrap_silent_ = true;
            log_->warn("no DHT node answered over UDP: UDP is blocked here, or the bootstrap nodes are down");
        } else if (asked_someone) {
            log_->info("DHT joined: {} nodes known", known);
        }
        // Rounds repeat until conclusive, so a node that joins late (or alone, until
        // others find it) still learns its reachability.
        if (prober_.verdict() == reachability::unknown) prober_.start_round(t, {}, {});
    });
}

void overlay_node::send_raw(const endpoint& to, bytes payload) { raw_out_.push_back({to, std::move(payload)}); }

void overlay_node::on_datagram(timestamp now, const endpoint& from, bytes_view payload) {
    now_ = now;
    if (payload.empty()) return;
    const auto first = payload[0];
    if (first == tag::krpc) {
        udp_answered_ = true;
        dht_.on_datagram(now, from, payload);
    } else if (auto sid = punch_session::session_of(payload)) {
        // Probes are answered statelessly: an ack is no bigger than the probe, and it
        // lets a peer whose introduction is still on its way through see the path open.
        if (first == tag::punch_probe) send_raw(from, punch_session::ack(*sid));
        if (auto it = punches_.find(*sid); it != punches_.end()) it->second.session->on_reply(now, from);
    } else if (first >= tag::stream_first && first <= tag::stream_last) {
        on_stream_datagram(now, from, payload);
    } else if (first == tag::relay_first) {
        on_relay_frame(now, from, payload);
    } else if (first == tag::dial_back && payload.size() == 9) {
        // A probe from an endpoint we have written to proves nothing about filtering.
        if (!sent_to_.contains(from))
            prober_.on_probe(now, from, {reinterpret_cast<const char*>(payload.data() + 1), 8},
                             sent_to_ips_.contains(from.address));
    }
    service_punches(now);
    service_streams(now);
    update_role(now);
    maybe_publish_record(now);
}

std::optional<outgoing_datagram> overlay_node::poll_transmit() {
    std::optional<outgoing_datagram> d;
    if (!raw_out_.empty()) {
        d = std::move(raw_out_.front());
        raw_out_.pop_front();
    } else {
        d = dht_.poll_transmit();
    }
    if (d && !d->from_secondary_port) {
        // Bounded: when full, forget and start over (a probe may then count once wrongly).
        if (sent_to_.size() >= max_sent_to) {
            sent_to_.clear();
            sent_to_ips_.clear();
        }
        sent_to_.insert(d->to);
        sent_to_ips_.try_emplace(d->to.address, sent_to_ips_.size());
    }
    return d;
}

std::optional<timestamp> overlay_node::next_deadline() const {
    std::optional<timestamp> next = dht_.next_deadline();
    auto consider = [&](std::optional<timestamp> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    consider(prober_.next_deadline());
    consider(client_.next_deadline());
    // Once published, a record is renewed on schedule; the first one follows elections.
    if (client_.running() && !published_introducers_.empty()) consider(next_record_);
    for (const auto& [sid, p] : punches_) consider(p.session->next_deadline());
    for (const auto& [id, c] : connections_) {
        consider(c.stream->next_deadline());
        if (c.finished) consider(c.finished_at + linger);
    }
    return next;
}

void overlay_node::on_timeout(timestamp now) {
    now_ = now;
    dht_.on_timeout(now);
    prober_.on_timeout(now);
    service_.on_timeout(now);
    client_.on_timeout(now);
    maybe_publish_record(now);
    for (auto& [sid, p] : punches_) p.session->on_timeout(now);
    for (auto& [id, c] : connections_) c.stream->on_timeout(now);
    service_punches(now);
    service_streams(now);
    update_role(now);
}

void overlay_node::update_role(timestamp now) {
    const auto verdict = prober_.verdict();
    const bool serve = verdict == reachability::reachable && now - prober_.verdict_since() >= config_.introducer_after;
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
            client_.set_nat_label(to_string(profile().verdict));
            client_.set_port_delta(profile().ports == port_behaviour::sequential ? profile().port_delta : 0);
            client_.start(now);
        }
    }
}

nat_profile overlay_node::profile() const {
    nat_profile p;
    p.mapping = mapping_.mapping();
    p.ports = mapping_.ports();
    p.port_delta = mapping_.port_delta();
    p.reach = prober_.verdict();
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
    return p;
}

dht::query_reply overlay_node::on_introduction(timestamp now, const endpoint& from, const krpc::message& q) {
    // Only our own introducers may make us send toward someone: anyone else could aim
    // our punches at a victim.
    if (!client_.is_introducer(from)) return dht::query_reply::error(krpc::server_error, "not my introducer");
    auto requester = read_key(q.body, "k");
    const auto* sid = bencode::find_string(q.body, "sid");
    const auto* ep_text = bencode::find_string(q.body, "ep");
    auto ep = ep_text ? krpc::parse_compact_endpoint(*ep_text) : std::nullopt;
    if (!requester || !sid || sid->size() != 8 || !ep) return dht::query_reply::error(krpc::protocol_error, "malformed introduction");
    if (const auto* relayed = bencode::find_int(q.body, "relay"); relayed && *relayed == 1) {
        // The requester will reach us through this introducer; its stream must prove the key.
        log_->info("relayed introduction from {}: peer {}", from.to_string(), to_hex(*requester).substr(0, 16));
        relay_paths_[*sid] = from;
        relay_peers_[*sid] = *requester;
        return dht::query_reply::respond({});
    }
    if (punches_.contains(*sid)) return dht::query_reply::respond({});
    auto lan = read_endpoint_list(q.body, "lan");
    log_->info("introduction from {}: peer {} at {}, punching", from.to_string(), to_hex(*requester).substr(0, 16),
               ep->to_string());
    std::vector<endpoint> candidates{*ep};
    lan = usable_lan(*ep, lan);
    candidates.insert(candidates.end(), lan.begin(), lan.end());
    for (const auto& p : read_endpoint_list(q.body, "pred", max_predictions))
        if (p.address == ep->address) candidates.push_back(p);
    const auto peer = *requester;
    const auto introducer = from;
    start_punch(now, *sid, std::move(candidates), lan, [this, peer, introducer](timestamp t, const punch_session& s) {
        if (s.current() != punch_session::state::succeeded) {
            log_->info("punch toward introduced peer {} failed after {} probes", to_hex(peer).substr(0, 16), s.probes_sent());
            return;
        }
        incoming_peer in;
        in.peer = peer;
        in.remote = *s.path();
        in.elapsed = s.elapsed();
        in.introducer = introducer;
        const auto& lan_eps = punches_.at(s.session_id()).lan;
        in.path = std::find(lan_eps.begin(), lan_eps.end(), *s.path()) != lan_eps.end() ? path_kind::lan : path_kind::udp;
        log_->info("punch succeeded: peer {} at {} ({}) in {:.0f} ms", to_hex(peer).substr(0, 16), in.remote.to_string(),
                   to_string(in.path), to_seconds(in.elapsed) * 1000);
        expected_peers_[in.remote] = peer;
        if (incoming_) incoming_(t, in);
    });
    return dht::query_reply::respond({});
}

void overlay_node::start_punch(timestamp now, const std::string& sid, std::vector<endpoint> candidates,
                               std::vector<endpoint> lan, std::function<void(timestamp, const punch_session&)> done) {
    punch_entry entry;
    entry.session = std::make_unique<punch_session>(sid, std::move(candidates), now, config_.punch_interval, config_.punch_timeout);
    entry.done = std::move(done);
    entry.lan = std::move(lan);
    punches_.insert_or_assign(sid, std::move(entry));
    service_punches(now);
}

void overlay_node::service_punches(timestamp now) {
    std::vector<std::string> finished;
    for (auto& [sid, p] : punches_) {
        while (auto d = p.session->poll_transmit()) raw_out_.push_back(std::move(*d));
        if (p.session->current() != punch_session::state::punching && p.done) {
            auto done = std::move(p.done);
            p.done = nullptr;
            done(now, *p.session);
            finished.push_back(sid);
        }
    }
    // Finished sessions linger for their final ack, then go; stray late probes are still
    // answered statelessly.
    for (const auto& sid : finished) {
        auto it = punches_.find(sid);
        if (it != punches_.end()) {
            while (auto d = it->second.session->poll_transmit()) raw_out_.push_back(std::move(*d));
            punches_.erase(it);
        }
    }
}

void overlay_node::connect(timestamp now, const public_key& target, connect_callback done) {
    auto attempt = std::make_shared<connect_attempt>();
    attempt->target = target;
    attempt->target_id = dht_id_for(target);
    attempt->sid.resize(8);
    dht_.rng().fill({reinterpret_cast<std::uint8_t*>(attempt->sid.data()), 8});
    attempt->started = now;
    attempt->done = std::move(done);
    dht_.find_node(now, attempt->target_id, [this, attempt](timestamp t, const dht::lookup_result& r) {
        if (r.responses == 0) {
            finish(t, attempt, connect_result{false, 0, "no DHT node answered: check the bootstrap nodes", {}, {}, {}, {}, {}});
            return;
        }
        if (!r.closest.empty() && r.closest.front().id == attempt->target_id) {
            // The target is in the DHT itself, so it is reachable: punch straight away.
            start_punch(t, attempt->sid, {r.closest.front().ep}, {}, [this, attempt](timestamp t2, const punch_session& s) {
                if (s.current() == punch_session::state::succeeded)
                    open_for(t2, attempt, connect_result{false, 0, {}, path_kind::udp, *s.path(), {}, {}, "public"});
                else
                    finish(t2, attempt, connect_result{false, 0, "peer is in the DHT but did not answer probes", {}, {}, {}, {}, {}});
            });
            return;
        }
        attempt->introducers = r.closest;
        ask_next_introducer(t, attempt);
    });
}

void overlay_node::ask_next_introducer(timestamp now, std::shared_ptr<connect_attempt> attempt) {
    if (attempt->finished) return;
    if (attempt->next >= attempt->introducers.size()) {
        finish(now, attempt, connect_result{false, 0, "unknown peer: " + attempt->last_error, {}, {}, {}, {}, {}});
        return;
    }
    send_introduce(now, attempt, {});
}

void overlay_node::send_introduce(timestamp now, std::shared_ptr<connect_attempt> attempt, const std::string& token) {
    const auto introducer = attempt->introducers[attempt->next];
    bencode::dict args{{"id", dht_.id().to_bytes()},
                       {"k", std::string(self_.public_key_bytes().begin(), self_.public_key_bytes().end())},
                       {"t", std::string(attempt->target.begin(), attempt->target.end())},
                       {"sid", attempt->sid},
                       {"lan", endpoint_list(config_.lan)},
                       {"nat", to_string(profile().verdict)}};
    if (!token.empty()) args.emplace("tok", token);
    // Behind a sequential NAT, the mapping our probes will create is predictable:
    // the target probes those ports too.
    if (auto predicted = predicted_mappings(); !predicted.empty()) args.emplace("pred", endpoint_list(predicted));
    bool sent = dht_.send_query(
        now, introducer.ep, method::introduce, std::move(args),
        [this, attempt, introducer, token, retried = !token.empty()](timestamp t, const krpc::query_outcome& o) {
            if (attempt->finished) return;
            if (o.status != krpc::query_status::response) {
                if (o.status == krpc::query_status::error && o.reply->error_code != krpc::method_unknown)
                    attempt->last_error = o.reply->error_message;
                ++attempt->next;
                ask_next_introducer(t, attempt);
                return;
            }
            const auto& body = o.reply->body;
            const auto* ep_text = bencode::find_string(body, "ep");
            auto ep = ep_text ? krpc::parse_compact_endpoint(*ep_text) : std::nullopt;
            if (!ep) {
                const auto* tok = bencode::find_string(body, "tok");
                if (tok && !retried) {
                    send_introduce(t, attempt, tok->substr(0, 64));
                } else {
                    ++attempt->next;
                    ask_next_introducer(t, attempt);
                }
                return;
            }
            auto lan = usable_lan(*ep, read_endpoint_list(body, "lan"));
            std::string nat;
            if (const auto* n = bencode::find_string(body, "nat")) nat = n->substr(0, 32);
            attempt->introducer = introducer;
            attempt->token = token;
            const bool both_symmetric = nat == to_string(nat_verdict::nat_symmetric) &&
                                        profile().verdict == nat_verdict::nat_symmetric;
            if (config_.policy == path_policy::relay_only || (both_symmetric && config_.policy == path_policy::relay_ok)) {
                // Two endpoint-dependent NATs cannot be punched by probing: go to the relay.
                connect_result res;
                res.introducer = introducer.ep;
                res.peer_nat = nat;
                request_relay(t, attempt, res);
                return;
            }
            log_->info("introduced by {}: peer at {} ({}), punching", introducer.ep.to_string(), ep->to_string(), nat);
            std::vector<endpoint> candidates{*ep};
            candidates.insert(candidates.end(), lan.begin(), lan.end());
            if (const auto* pd = bencode::find_int(body, "pd"); pd && *pd != 0 && *pd >= -64 && *pd <= 64)
                for (int k = 1; k <= static_cast<int>(max_predictions); ++k)
                    candidates.push_back(endpoint{ep->address, static_cast<std::uint16_t>(ep->port + *pd * k)});
            start_punch(t, attempt->sid, std::move(candidates), lan,
                        [this, attempt, introducer, nat, lan](timestamp t2, const punch_session& s) {
                            connect_result res;
                            res.introducer = introducer.ep;
                            res.peer_nat = nat;
                            if (s.current() != punch_session::state::succeeded) {
                                if (config_.policy == path_policy::relay_ok) {
                                    log_->info("punching failed; asking {} to relay", introducer.ep.to_string());
                                    request_relay(t2, attempt, res);
                                    return;
                                }
                                res.error = "punching failed: no probe came back from the peer, and relaying is off "
                                            "(direct-only)";
                                finish(t2, attempt, res);
                                return;
                            }
                            res.remote = *s.path();
                            res.path = std::find(lan.begin(), lan.end(), res.remote) != lan.end() ? path_kind::lan
                                                                                                   : path_kind::udp;
                            open_for(t2, attempt, res);
                        });
        },
        introducer.id);
    if (!sent) {
        ++attempt->next;
        ask_next_introducer(now, attempt);
    }
}

void overlay_node::finish(timestamp now, const std::shared_ptr<connect_attempt>& attempt, connect_result result) {
    if (attempt->finished) return;
    attempt->finished = true;
    result.elapsed = now - attempt->started;
    if (result.ok)
        log_->info("connected to {} at {} ({}) in {:.0f} ms", to_hex(attempt->target).substr(0, 16), result.remote.to_string(),
                   to_string(result.path), to_seconds(result.elapsed) * 1000);
    else
        log_->info("connect to {} failed: {}", to_hex(attempt->target).substr(0, 16), result.error);
    if (attempt->done) attempt->done(now, result);
}

} // namespace ovl::overlay

namespace ovl::overlay {

void overlay_node::open_for(timestamp now, const std::shared_ptr<connect_attempt>& attempt, connect_result res) {
    const auto id = open_stream(now, attempt->target, res.remote);
    if (id == 0) {
        res.ok = false;
        res.error = "too many connections";
        finish(now, attempt, res);
        return;
    }
    connections_.at(id).on_open = [this, attempt, res, id](timestamp t, const secure_stream& st) mutable {
        res.ok = st.current_state() == secure_stream::state::open;
        res.connection = res.ok ? id : 0;
        if (!res.ok) res.error = "secure handshake failed: " + st.failure_reason();
        finish(t, attempt, res);
    };
    service_streams(now);
}

connection_id overlay_node::open_stream(timestamp now, const public_key& peer, const endpoint& remote,
                                        const std::optional<std::string>& relay_sid) {
    if (connections_.size() >= max_connections) return 0;
    auto stream = std::make_unique<secure_stream>(secure_stream::role::initiator, self_, peer, 0,
                                                  random_source(dht_.rng().derive_seed()), log_, now);
    const auto id = stream->id();
    connection c;
    c.stream = std::move(stream);
    c.remote = remote;
    c.relay_sid = relay_sid;
    connections_.insert_or_assign(id, std::move(c));
    return id;
}

void overlay_node::on_stream_datagram(timestamp now, const endpoint& from, bytes_view payload,
                                      const std::optional<std::string>& relay_sid) {
    auto cid = secure_stream::connection_id(payload);
    if (!cid) return;
    auto it = connections_.find(*cid);
    if (it == connections_.end()) {
        if (!secure_stream::is_handshake_init(payload) || connections_.size() >= max_connections) return;
        connection c;
        c.stream = std::make_unique<secure_stream>(secure_stream::role::responder, self_, std::nullopt, *cid,
                                                   random_source(dht_.rng().derive_seed()), log_, now);
        c.remote = from;
        c.relay_sid = relay_sid;
        c.incoming = true;
        it = connections_.emplace(*cid, std::move(c)).first;
    }
    // A stream is bound to the endpoint it started on; packets from elsewhere are noise.
    if (it->second.remote != from) return;
    it->second.stream->on_packet(now, payload);
}

void overlay_node::service_streams(timestamp now) {
    for (auto it = connections_.begin(); it != connections_.end();) {
        auto& c = it->second;
        auto& st = *c.stream;
        while (auto p = st.poll_packet(now))
            raw_out_.push_back({c.remote, c.relay_sid ? relay_table::frame(*c.relay_sid, *p) : std::move(*p)});
        const auto state = st.current_state();
        if (!c.opened && state == secure_stream::state::open) {
            c.opened = true;
            // An introduced peer must be the one the introduction named.
            std::optional<public_key> expected;
            if (c.relay_sid) {
                if (auto rp = relay_peers_.find(*c.relay_sid); rp != relay_peers_.end()) expected = rp->second;
            } else if (auto ep = expected_peers_.find(c.remote); ep != expected_peers_.end()) {
                expected = ep->second;
            }
            if (c.incoming && expected && st.peer() != *expected) {
                c.stream->abort("not the introduced peer");
                while (auto p = st.poll_packet(now)) raw_out_.push_back({c.remote, std::move(*p)});
                it = connections_.erase(it);
                continue;
            }
            if (c.on_open) {
                auto cb = std::move(c.on_open);
                c.on_open = nullptr;
                cb(now, st);
            }
            events_.push_back({connection_event::kind::opened, it->first, *st.peer(), c.remote, c.incoming, {}});
        }
        if (!c.finished && (state == secure_stream::state::closed || state == secure_stream::state::failed)) {
            c.finished = true;
            c.finished_at = now;
            if (c.on_open) {
                auto cb = std::move(c.on_open);
                c.on_open = nullptr;
                cb(now, st);
            }
            if (c.opened)
                events_.push_back({state == secure_stream::state::closed ? connection_event::kind::closed
                                                                        : connection_event::kind::failed,
                                   it->first, st.peer().value_or(public_key{}), c.remote, c.incoming, st.failure_reason()});
        }
        if (c.finished && now - c.finished_at >= linger) {
            it = connections_.erase(it);
            continue;
        }
        ++it;
    }
}

std::size_t overlay_node::write(connection_id id, bytes_view data) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return 0;
    auto n = it->second.stream->write(data);
    service_streams(now_);
    return n;
}

bytes overlay_node::read(connection_id id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return {};
    auto out = it->second.stream->read();
    service_streams(now_);
    return out;
}

void overlay_node::close(connection_id id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    it->second.stream->close();
    service_streams(now_);
}

std::optional<connection_event> overlay_node::poll_event() {
    if (events_.empty()) return std::nullopt;
    auto e = std::move(events_.front());
    events_.pop_front();
    return e;
}

const secure_stream* overlay_node::stream(connection_id id) const {
    auto it = connections_.find(id);
    return it == connections_.end() ? nullptr : it->second.stream.get();
}

} // namespace ovl::overlay

namespace ovl::overlay {

void overlay_node::on_relay_frame(timestamp now, const endpoint& from, bytes_view frame) {
    // As an introducer: carry the frame to the session's other end.
    if (serving_) {
        if (auto out = service_.relays().forward(now, from, frame)) {
            raw_out_.push_back(std::move(*out));
            return;
        }
    }
    // As an end of a relayed session: unwrap what our relay sent us.
    auto sid = relay_table::session_of(frame);
    if (!sid) return;
    auto it = relay_paths_.find(*sid);
    if (it == relay_paths_.end() || it->second != from) return;
    auto inner = frame.subspan(9);
    if (!inner.empty() && inner[0] >= tag::stream_first && inner[0] <= tag::stream_last)
        on_stream_datagram(now, from, inner, *sid);
}

void overlay_node::request_relay(timestamp now, std::shared_ptr<connect_attempt> attempt, connect_result res) {
    const auto introducer = *attempt->introducer;
    bencode::dict args{{"id", dht_.id().to_bytes()},
                       {"k", std::string(self_.public_key_bytes().begin(), self_.public_key_bytes().end())},
                       {"t", std::string(attempt->target.begin(), attempt->target.end())},
                       {"sid", attempt->sid},
                       {"tok", attempt->token}};
    bool sent = dht_.send_query(
        now, introducer.ep, method::relay, std::move(args),
        [this, attempt, res, introducer](timestamp t, const krpc::query_outcome& o) mutable {
            if (o.status != krpc::query_status::response || !bencode::find_int(o.reply->body, "relay")) {
                res.error = o.status == krpc::query_status::error
                                ? "no direct path, and the introducer would not relay: " + o.reply->error_message
                                : "no direct path, and the introducer did not answer the relay request";
                finish(t, attempt, res);
                return;
            }
            relay_paths_[attempt->sid] = introducer.ep;
            res.path = path_kind::relay;
            res.remote = introducer.ep;
            const auto id = open_stream(t, attempt->target, introducer.ep, attempt->sid);
            if (id == 0) {
                res.error = "too many connections";
                finish(t, attempt, res);
                return;
            }
            connections_.at(id).on_open = [this, attempt, res, id](timestamp t2, const secure_stream& st) mutable {
                res.ok = st.current_state() == secure_stream::state::open;
                res.connection = res.ok ? id : 0;
                if (!res.ok) res.error = "secure handshake over the relay failed: " + st.failure_reason();
                finish(t2, attempt, res);
            };
            service_streams(t);
        },
        introducer.id);
    if (!sent) {
        res.error = "could not send the relay request";
        finish(now, attempt, res);
    }
}

} // namespace ovl::overlay

namespace ovl::overlay {

std::vector<endpoint> overlay_node::predicted_mappings() const {
    std::vector<endpoint> out;
    if (mapping_.ports() != port_behaviour::sequential) return out;
    const int delta = mapping_.port_delta();
    auto latest = mapping_.latest();
    if (delta == 0 || !latest) return out;
    for (int k = 1; k <= static_cast<int>(max_predictions); ++k)
        out.push_back(endpoint{latest->address, static_cast<std::uint16_t>(latest->port + delta * k)});
    return out;
}

} // namespace ovl::overlay

namespace ovl::overlay {

std::vector<endpoint> overlay_node::usable_lan(const endpoint& peer_public, const std::vector<endpoint>& offered) const {
    // LAN endpoints only make sense behind the same public address, and only private
    // ones: anything else would let a peer aim our probes at an address of its choice.
    std::vector<endpoint> out;
    auto ours = mapping_.public_endpoint();
    if (!ours || ours->address != peer_public.address) return out;
    for (const auto& ep : offered)
        if (ep.address.is_private() || ep.address.is_shared()) out.push_back(ep);
    return out;
}

} // namespace ovl::overlay

namespace ovl::overlay {

void overlay_node::maybe_publish_record(timestamp now) {
    if (!client_.running()) return;
    auto introducers = client_.introducers();
    if (introducers.empty()) return;
    std::sort(introducers.begin(), introducers.end());
    if (introducers == published_introducers_ && now < next_record_) return;
    published_introducers_ = introducers;
    next_record_ = now + config_.record_interval;

    contact_record record;
    const auto p = profile();
    record.observed = p.public_endpoint ? std::vector<endpoint>{*p.public_endpoint} : p.observed;
    if (record.observed.size() > 4) record.observed.resize(4);
    record.lan = config_.lan;
    record.nat = to_string(p.verdict);
    record.introducers = introducers;
    record.transports = {"udp", "relay"};
    const auto seq = config_.record_seq_base + static_cast<std::int64_t>(++records_published_);
    dht_.put_item(now, self_.public_key_bytes(), contact_salt, seq, record.encode(),
                  [this](std::span<const std::uint8_t> m) { return self_.sign(m); },
                  [this, seq](timestamp, const dht::put_item_result& r) {
                      log_->info("contact record {} published on {} nodes", seq, r.stored_at);
                  });
}

void overlay_node::fetch_contact(timestamp now, const public_key& peer,
                                 std::function<void(timestamp, std::optional<contact_record>)> done) {
    dht_.get_item(now, peer, contact_salt,
                  [done = std::move(done)](timestamp t, const std::optional<dht::mutable_item>& item, const dht::lookup_result&) {
                      std::optional<contact_record> record;
                      if (item) {
                          auto v = bencode::decode({reinterpret_cast<const std::uint8_t*>(item->value.data()), item->value.size()});
                          if (v) record = contact_record::decode(*v);
                      }
                      done(t, record);
                  });
}

} // namespace ovl::overlay
