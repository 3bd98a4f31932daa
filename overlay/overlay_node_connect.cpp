// overlay_node: setting up a connection — find the target's introducers in the DHT, get
// introduced (or, as the target, accept an introduction), punch, and open the stream.
#include "overlay/overlay_node.hpp"
#include "overlay/overlay_node_internal.hpp"

#include "dht/krpc/compact.hpp"
#include "overlay/dht_id.hpp"
#include "overlay/methods.hpp"

#include <algorithm>

namespace ovl::overlay {

namespace {
connect_result failed_connect(std::string error) {
    connect_result r;
    r.error = std::move(error);
    return r;
}
} // namespace

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
    // Where the requester may be reached: its public endpoint, usable LAN endpoints, and
    // the ports its sequential NAT is predicted to use.
    const auto lan = usable_lan(*ep, read_endpoint_list(q.body, "lan"));
    std::vector<endpoint> candidates{*ep};
    candidates.insert(candidates.end(), lan.begin(), lan.end());
    auto predicted = read_endpoint_list(q.body, "pred", max_predictions);
    std::erase_if(predicted, [&](const endpoint& p) { return p.address != ep->address; });
    const auto skip = std::min(predicted.size(), predictions_behind(from));
    candidates.insert(candidates.end(), predicted.begin() + static_cast<std::ptrdiff_t>(skip), predicted.end());
    if (introduction_) {
        introduction in;
        in.peer = *requester;
        in.candidates = std::move(candidates);
        if (const auto* ctx = bencode::find_string(q.body, "ctx")) in.ctx = ctx->substr(0, 32);
        if (const auto* nat = bencode::find_string(q.body, "nat")) in.peer_nat = nat->substr(0, 32);
        in.introducer = from;
        log_->info("introduction from {}: peer {} at {}", from.to_string(), to_hex(*requester).substr(0, 16),
                   ep->to_string());
        introduction_(now, in);
        return dht::query_reply::respond({});
    }
    std::string peer_nat;
    if (const auto* nat = bencode::find_string(q.body, "nat")) peer_nat = nat->substr(0, 32);
    const auto peer6 = ipv6_pair(q.body);
    const auto* transport = bencode::find_string(q.body, "tr");
    if (config_.udp_blocked || peer_nat == to_string(nat_verdict::udp_blocked) || (transport && *transport == "tcp")) {
        // UDP cannot cross (or TCP was asked for): punch TCP instead. `ep` is where the
        // requester's TCP reached its introducer, or (a UDP-capable requester) its UDP
        // mapping, whose port a port-preserving NAT also gives its TCP connections. Over
        // IPv6 there is no mapping to guess: its address and port are its own.
        const auto remote = peer6 ? *peer6 : *ep;
        log_->info("introduction from {}: peer {} at {} ({}), punching TCP", from.to_string(),
                   to_hex(*requester).substr(0, 16), remote.to_string(), peer_nat);
        const auto peer = *requester;
        expected_peers_[remote] = peer;
        start_tcp_punch(now, *sid, remote,
                        config_.udp_blocked && remote.address.is_v4() ? std::optional<endpoint>(from) : std::nullopt,
                        [this, peer, remote, introducer = from, started = now](timestamp t, bool ok) {
                            if (!ok) {
                                log_->info("TCP punch toward introduced peer {} failed", to_hex(peer).substr(0, 16));
                                return;
                            }
                            incoming_peer in;
                            in.peer = peer;
                            in.remote = remote;
                            in.path = path_kind::tcp;
                            in.elapsed = t - started;
                            in.introducer = introducer;
                            log_->info("TCP punch succeeded: peer {} at {} in {:.0f} ms", to_hex(peer).substr(0, 16),
                                       remote.to_string(), to_seconds(in.elapsed) * 1000);
                            if (incoming_) incoming_(t, in);
                        });
        return dht::query_reply::respond({});
    }
    const bool peer_predictable = candidates.size() > 1 + lan.size();
    const auto birthday = birthday_role(peer_nat, peer_predictable);
    log_->info("introduction from {}: peer {} at {}{} ({}), punching{}", from.to_string(), to_hex(*requester).substr(0, 16),
               ep->to_string(), peer6 ? " and " + peer6->to_string() : "", peer_nat.empty() ? "nat unknown" : peer_nat,
               birthday ? " with many-socket probing" : "");
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
        log_->info("punch succeeded: peer {} at {} ({}{}) in {:.0f} ms after {} probes", to_hex(peer).substr(0, 16),
                   in.remote.to_string(), to_string(in.path), s.path_socket() ? ", many-socket" : "",
                   to_seconds(in.elapsed) * 1000, s.probes_sent());
        expected_peers_[in.remote] = peer;
        if (incoming_) incoming_(t, in);
    }, birthday, peer6);
    return dht::query_reply::respond({});
}

std::optional<endpoint> overlay_node::ipv6_pair(const bencode::dict& d) const {
    if (!ipv6_endpoint() && primary_family() != ip_family::v6) return std::nullopt;
    return read_ipv6_endpoint(d);
}

nat_verdict overlay_node::punch_verdict() const { return punch_verdict(profile()); }

nat_verdict overlay_node::punch_verdict(const nat_profile& p) const {
    if (config_.udp_blocked) return nat_verdict::udp_blocked;
    // A peer that connects right after starting has seen its mapping but not yet finished
    // its dial-back round; a NAT that maps endpoint-independently is a filtering one far
    // more often than not, and the peer plans its punch (many-socket or not) on this.
    if (p.verdict == nat_verdict::unknown && p.mapping == mapping_behaviour::endpoint_independent)
        return nat_verdict::nat_cone;
    return p.verdict;
}

std::optional<birthday_probe::role> overlay_node::birthday_role(std::string_view peer_nat, bool peer_predictable) const {
    const auto self = punch_verdict();
    // Endpoint-independent mapping, but filtered: what the other side of a birthday needs.
    // (A side that accepts unsolicited packets is reached by a plain punch.)
    auto filtered_eim = [](std::string_view v) {
        return v == to_string(nat_verdict::nat_cone) || v == to_string(nat_verdict::firewalled);
    };
    const std::string_view symmetric = to_string(nat_verdict::nat_symmetric);
    if (self == nat_verdict::nat_symmetric && predicted_mappings().empty() && filtered_eim(peer_nat))
        return birthday_probe::role::many_sockets;
    if (peer_nat == symmetric && !peer_predictable && filtered_eim(to_string(self))) return birthday_probe::role::spray;
    return std::nullopt;
}

void overlay_node::start_punch(timestamp now, const std::string& sid, std::vector<endpoint> candidates,
                               std::vector<endpoint> lan, std::function<void(timestamp, const punch_session&)> done,
                               std::optional<birthday_probe::role> birthday, std::optional<endpoint> ipv6) {
    const endpoint peer = candidates.front();
    // Candidates come as [public, LAN..., predicted...]; the predicted ports are probed
    // first. Behind a sequential NAT each new destination takes the next port, so when both
    // sides probe the other's predictions in order, our k-th probe leaves from the very
    // port the peer's k-th probe is aimed at, and the two meet on that diagonal.
    const auto predicted_from = static_cast<std::ptrdiff_t>(1 + lan.size());
    if (static_cast<std::ptrdiff_t>(candidates.size()) > predicted_from)
        std::rotate(candidates.begin(), candidates.begin() + predicted_from, candidates.end());
    // IPv6 is punched in the same rounds, first and preferred (RFC 8305): no NAT rewrites the
    // endpoint, so one candidate does — no prediction, no many-socket probing — and its
    // probes leave from the IPv6 socket, taking no port of the IPv4 NAT's sequence.
    if (ipv6) candidates.insert(candidates.begin(), *ipv6);
    punch_entry entry;
    entry.session = std::make_unique<punch_session>(sid, std::move(candidates), now, config_.punch_interval, config_.punch_timeout,
                                                    config_.punch_opening_ttl, config_.punch_opening_lead);
    if (ipv6) entry.session->prefer_ipv6(config_.punch_ipv6_grace);
    if (birthday) {
        const auto running = std::count_if(punches_.begin(), punches_.end(),
                                           [](const auto& p) { return p.second.session->birthday().has_value(); });
        const auto sockets = *birthday == birthday_probe::role::many_sockets ? config_.birthday.sockets : std::uint16_t{0};
        const auto first = sockets ? allocate_sockets(sockets) : std::optional<std::uint16_t>{0};
        if (static_cast<std::size_t>(running) >= config_.max_birthdays || !first) {
            log_->info("many-socket probing skipped: {} already running", running);
        } else {
            entry.session->add_birthday(birthday_probe(*birthday, punch_session::probe(sid), peer, *first, config_.birthday,
                                                       random_source(dht_.rng().derive_seed()), config_.punch_interval, now));
        }
    }
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
            // Every birthday socket but the one that met goes back; that one waits for its stream.
            if (const auto& b = p.session->birthday(); b && b->socket_count() > 0) {
                const auto winner = p.session->path_socket();
                for (std::uint16_t k = 0; k < b->socket_count(); ++k)
                    if (b->first_socket() + k != winner) release_socket(static_cast<std::uint16_t>(b->first_socket() + k));
                if (winner) sockets_awaiting_stream_[winner] = now + stream_claim_window;
            }
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

void overlay_node::start_tcp_punch(timestamp now, const std::string& sid, const endpoint& remote,
                                   std::optional<endpoint> via, std::function<void(timestamp, bool)> done) {
    // Bounded, so that introductions (even from a misbehaving introducer) cannot turn us
    // into a source of connection attempts toward anyone.
    if (tcp_punches_.size() >= max_tcp_punches && !tcp_punches_.contains(sid)) {
        log_->info("TCP punch toward {} not started: {} already running", remote.to_string(), tcp_punches_.size());
        done(now, false);
        return;
    }
    const auto deadline = now + config_.tcp_punch_timeout;
    tcp_punches_.insert_or_assign(sid, tcp_punch{deadline, std::move(done)});
    if (tcp_requests_.size() >= max_tcp_requests) tcp_requests_.pop_front();
    tcp_requests_.push_back({sid, remote, via, deadline});
}

std::optional<tcp_punch_request> overlay_node::poll_tcp_punch() {
    if (tcp_requests_.empty()) return std::nullopt;
    auto r = std::move(tcp_requests_.front());
    tcp_requests_.pop_front();
    return r;
}

void overlay_node::on_tcp_punch_result(timestamp now, const std::string& sid, bool ok) {
    now_ = now;
    auto it = tcp_punches_.find(sid);
    if (it == tcp_punches_.end()) return;
    auto done = std::move(it->second.done);
    tcp_punches_.erase(it);
    done(now, ok);
    service_streams(now);
}

void overlay_node::connect(timestamp now, const public_key& target, connect_callback done, connect_options options) {
    auto attempt = std::make_shared<connect_attempt>();
    attempt->target = target;
    attempt->done = std::move(done);
    attempt->options = options;
    start_connect(now, std::move(attempt));
}

void overlay_node::introduce(timestamp now, const public_key& target, std::string ctx, connect_callback done) {
    auto attempt = std::make_shared<connect_attempt>();
    attempt->target = target;
    attempt->done = std::move(done);
    attempt->introduce_only = true;
    attempt->ctx = std::move(ctx);
    if (attempt->ctx.size() > 32) attempt->ctx.resize(32);
    start_connect(now, std::move(attempt));
}

void overlay_node::start_connect(timestamp now, std::shared_ptr<connect_attempt> attempt) {
    attempt->target_id = dht_id_for(attempt->target);
    attempt->sid.resize(8);
    dht_.rng().fill({reinterpret_cast<std::uint8_t*>(attempt->sid.data()), 8});
    attempt->started = now;
    look_up_target(now, std::move(attempt));
}

void overlay_node::look_up_target(timestamp now, std::shared_ptr<connect_attempt> attempt) {
    dht_.find_node(now, attempt->target_id, [this, attempt](timestamp t, const dht::lookup_result& r) {
        if (r.responses == 0 && !attempt->looked_up_again) {
            // A lookup started as the node starts may go only to the bootstrap nodes, and a
            // lossy link can lose all of those queries; by now the node's own join has run.
            attempt->looked_up_again = true;
            look_up_target(t, attempt);
            return;
        }
        if (r.responses == 0) {
            finish(t, attempt, failed_connect("no DHT node answered: check the bootstrap nodes"));
            return;
        }
        if (!r.closest.empty() && r.closest.front().id == attempt->target_id) {
            if (attempt->introduce_only) {
                connect_result res;
                res.ok = true;
                res.remote = r.closest.front().ep;
                res.candidates = {res.remote};
                res.peer_nat = "public";
                finish(t, attempt, res);
                return;
            }
            // The target is in the DHT itself, so it is reachable: punch straight away.
            start_punch(t, attempt->sid, {r.closest.front().ep}, {}, [this, attempt](timestamp t2, const punch_session& s) {
                if (s.current() == punch_session::state::succeeded) {
                    connect_result res;
                    res.remote = *s.path();
                    res.peer_nat = "public";
                    open_for(t2, attempt, res);
                } else {
                    finish(t2, attempt, failed_connect("peer is in the DHT but did not answer probes"));
                }
            });
            return;
        }
        attempt->introducers = r.closest;
        ask_next_introducer(t, attempt);
    },
    // Over our primary family only (IPv4 unless IPv6-only): a target registered over its
    // own, and an introducer asked over the other would hand it an endpoint it may not
    // reach; nor do we wait on the other family's lookup.
    dht::address_families::of(primary_family()));
}

void overlay_node::ask_next_introducer(timestamp now, std::shared_ptr<connect_attempt> attempt) {
    if (attempt->finished) return;
    if (attempt->next >= attempt->introducers.size()) {
        finish(now, attempt, failed_connect("unknown peer: " + attempt->last_error));
        return;
    }
    send_introduce(now, attempt, {});
}

bencode::dict overlay_node::introduce_args(const connect_attempt& attempt, const std::string& token) const {
    bencode::dict args{{"id", dht_.id().to_bytes()},
                       {"k", std::string(self_.public_key_bytes().begin(), self_.public_key_bytes().end())},
                       {"t", std::string(attempt.target.begin(), attempt.target.end())},
                       {"sid", attempt.sid},
                       {"lan", endpoint_list(config_.lan)},
                       {"nat", to_string(punch_verdict())}};
    if (!token.empty()) args.emplace("tok", token);
    if (!attempt.ctx.empty()) args.emplace("ctx", attempt.ctx);
    // Behind a sequential NAT, the mapping our probes will create is predictable:
    // the target probes those ports too.
    if (auto predicted = predicted_mappings(); !predicted.empty()) args.emplace("pred", endpoint_list(predicted));
    if (auto ep6 = ipv6_endpoint()) args.emplace("ep6", krpc::compact_endpoint(*ep6));
    if (attempt.options.tcp) args.emplace("tr", "tcp");
    return args;
}

void overlay_node::send_introduce(timestamp now, std::shared_ptr<connect_attempt> attempt, const std::string& token) {
    const auto introducer = attempt->introducers[attempt->next];
    bool sent = dht_.send_query(
        now, introducer.ep, method::introduce, introduce_args(*attempt, token),
        [this, attempt, introducer, token, retried = !token.empty()](timestamp t, const krpc::query_outcome& o) {
            if (attempt->finished) return;
            if (o.status == krpc::query_status::timeout && attempt->asked_again != attempt->next) {
                // On a lossy link one lost datagram (the query, or the answer after the
                // introducer already told the target) must not cost us this introducer.
                attempt->asked_again = attempt->next;
                send_introduce(t, attempt, token);
                return;
            }
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
            attempt->introduced_at = t;
            std::vector<endpoint> candidates{*ep};
            candidates.insert(candidates.end(), lan.begin(), lan.end());
            if (const auto* pd = bencode::find_int(body, "pd"); pd && *pd != 0 && *pd >= -64 && *pd <= 64)
                for (int k = 1; k <= static_cast<int>(max_predictions); ++k)
                    candidates.push_back(endpoint{ep->address, static_cast<std::uint16_t>(ep->port + *pd * k)});
            if (attempt->introduce_only) {
                log_->info("introduced by {}: peer at {} ({})", introducer.ep.to_string(), ep->to_string(), nat);
                connect_result res;
                res.ok = true;
                res.remote = *ep;
                res.introducer = introducer.ep;
                res.peer_nat = nat;
                res.candidates = std::move(candidates);
                finish(t, attempt, res);
                return;
            }
            const bool peer_predictable = candidates.size() > 1 + lan.size();
            const auto peer6 = ipv6_pair(body);
            const bool both_symmetric = nat == to_string(nat_verdict::nat_symmetric) &&
                                        profile().verdict == nat_verdict::nat_symmetric;
            const bool both_predictable = peer_predictable && !predicted_mappings().empty();
            if (config_.policy == path_policy::relay_only ||
                (both_symmetric && !both_predictable && !peer6 && config_.policy == path_policy::relay_ok)) {
                // Two endpoint-dependent NATs cannot be punched by probing unless both
                // allocate ports sequentially (then both probe predicted ports), or both
                // have IPv6, which no NAT rewrites: relay.
                connect_result res;
                res.introducer = introducer.ep;
                res.peer_nat = nat;
                request_relay(t, attempt, res);
                return;
            }
            if (config_.udp_blocked || nat == to_string(nat_verdict::udp_blocked) || attempt->options.tcp) {
                const auto remote = peer6 ? *peer6 : *ep;
                log_->info("introduced by {}: peer at {} ({}), punching TCP", introducer.ep.to_string(), remote.to_string(), nat);
                start_tcp_punch(t, attempt->sid, remote,
                                config_.udp_blocked && remote.address.is_v4() ? std::optional<endpoint>(introducer.ep)
                                                                              : std::nullopt,
                                [this, attempt, introducer, nat, remote](timestamp t2, bool ok) {
                                    connect_result res;
                                    res.introducer = introducer.ep;
                                    res.peer_nat = nat;
                                    if (ok) {
                                        res.remote = remote;
                                        res.path = path_kind::tcp;
                                        open_for(t2, attempt, res);
                                    } else if (config_.policy == path_policy::relay_ok) {
                                        log_->info("TCP punch failed; asking {} to relay", introducer.ep.to_string());
                                        request_relay(t2, attempt, res);
                                    } else {
                                        res.error = "TCP punching failed (simultaneous open got no answer), and relaying "
                                                    "is off (direct-only)";
                                        finish(t2, attempt, res);
                                    }
                                });
                return;
            }
            const auto birthday = birthday_role(nat, peer_predictable);
            log_->info("introduced by {}: peer at {}{} ({}), punching{}", introducer.ep.to_string(), ep->to_string(),
                       peer6 ? " and " + peer6->to_string() : "", nat, birthday ? " with many-socket probing" : "");
            remind(t + reintroduce_after, reintroduce_after, reintroductions, [this, attempt, introducer, token](timestamp t2) {
                const auto it = punches_.find(attempt->sid);
                if (attempt->finished || it == punches_.end() ||
                    it->second.session->current() != punch_session::state::punching)
                    return false;
                dht_.send_query(t2, introducer.ep, method::introduce, introduce_args(*attempt, token),
                                [](timestamp, const krpc::query_outcome&) {});
                return true;
            });
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
                            if (s.path_socket())
                                log_->info("many-socket probing met after {} probes in {:.0f} ms", s.probes_sent(),
                                           to_seconds(s.elapsed()) * 1000);
                            open_for(t2, attempt, res, s.path_socket());
                        },
                        birthday, peer6);
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
    if (attempt->introduced_at) result.since_introduction = now - *attempt->introduced_at;
    if (result.ok && attempt->introduce_only)
        log_->info("introduced to {} at {} in {:.0f} ms", to_hex(attempt->target).substr(0, 16), result.remote.to_string(),
                   to_seconds(result.elapsed) * 1000);
    else if (result.ok)
        log_->info("connected to {} at {} ({}) in {:.0f} ms", to_hex(attempt->target).substr(0, 16), result.remote.to_string(),
                   to_string(result.path), to_seconds(result.elapsed) * 1000);
    else
        log_->info("connect to {} failed: {}", to_hex(attempt->target).substr(0, 16), result.error);
    if (attempt->done) attempt->done(now, result);
}

void overlay_node::open_for(timestamp now, const std::shared_ptr<connect_attempt>& attempt, connect_result res,
                            std::uint16_t socket) {
    const auto id = open_stream(now, attempt->target, res.remote, std::nullopt, socket);
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

std::size_t overlay_node::predictions_behind(const endpoint& introducer) const {
    // The requester aims its k-th probe at the port the introducer saw us at plus k steps,
    // and its k-th probe leaves from its k-th predicted port. Our own next mapping is
    // already some steps past what the introducer saw (DHT traffic to new nodes took
    // ports since): our j-th probe must go to the requester's prediction of that step, so
    // the first predictions, paired with ports we no longer have, are skipped.
    const int delta = mapping_.port_delta();
    const auto latest = mapping_.latest();
    const auto seen = mapping_.seen_by(introducer.address);
    if (delta == 0 || !latest || !seen) return 0;
    const int steps = (latest->port - seen->port) / delta;
    return steps > 0 ? static_cast<std::size_t>(steps) : 0;
}

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
