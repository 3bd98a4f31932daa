#include "dht/traversal.hpp"

#include <algorithm>

namespace ovl::dht {

namespace {
std::size_t index(const endpoint& ep) { return static_cast<std::size_t>(ep.address.family()); }
} // namespace

traversal::traversal(query_sender& sender, kind k, const node_id& target, traversal_config config,
                     address_families families, lookup_callback done)
    : sender_(sender), kind_(k), target_(target), config_(config), families_(families), done_(std::move(done)) {
    result_.target = target;
}

bool traversal::may_follow(const endpoint& reporter, const endpoint& named) {
    return !named.address.is_loopback() || reporter.address.is_loopback();
}

void traversal::add_seed(const contact& c) { add_candidate(c.id, c.ep, 1); }

void traversal::add_bootstrap(const endpoint& ep) { add_candidate(std::nullopt, ep, 1); }

void traversal::add_candidate(const std::optional<node_id>& id, const endpoint& ep, int hop) {
    if (id && *id == sender_.self_id()) return;
    if (!families_.has(ep.address)) return;
    if (!seen_.insert(ep).second) return;
    candidate c{id, ep, state::fresh, hop, {}};
    // Known ids sort by distance; bare endpoints go last, so they are asked only
    // when nothing better is known.
    auto pos = std::upper_bound(candidates_.begin(), candidates_.end(), c, [&](const candidate& a, const candidate& b) {
        if (!a.id) return false;
        if (!b.id) return true;
        return closer_to(target_, *a.id, *b.id);
    });
    candidates_.insert(pos, std::move(c));
    // Forget the farthest candidates nobody is waiting on, so memory stays bounded.
    while (candidates_.size() > config_.max_candidates) {
        auto victim = std::find_if(candidates_.rbegin(), candidates_.rend(),
                                   [](const candidate& x) { return x.st != state::in_flight && x.st != state::slow; });
        if (victim == candidates_.rend()) break;
        candidates_.erase(std::next(victim).base());
    }
}

traversal::candidate* traversal::find(const endpoint& ep) {
    auto it = std::find_if(candidates_.begin(), candidates_.end(), [&](const candidate& c) { return c.ep == ep; });
    return it == candidates_.end() ? nullptr : &*it;
}

void traversal::expect_item(const public_key& key, std::string salt, std::optional<std::int64_t> seq) {
    item_key_ = key;
    item_salt_ = std::move(salt);
    item_seq_ = seq;
}

void traversal::start(timestamp now) {
    started_ = now;
    step(now);
}

void traversal::step(timestamp now) {
    if (finished_) return;
    std::size_t settled[2] = {0, 0};
    for (auto& c : candidates_) {
        const auto f = index(c.ep);
        if (c.st == state::failed || c.st == state::slow || settled[f] >= config_.k) continue;
        if (c.st == state::answered || c.st == state::in_flight) {
            ++settled[f];
            continue;
        }
        if (in_flight_[f] >= config_.alpha) continue;
        bencode::dict args;
        const char* name = nullptr;
        switch (kind_) {
        case kind::find_node:
            args = find_node_args(sender_.self_id(), target_);
            name = method::find_node;
            break;
        case kind::get_peers:
            args = get_peers_args(sender_.self_id(), target_);
            name = method::get_peers;
            break;
        case kind::get_item:
            args = get_item_args(sender_.self_id(), target_, item_seq_);
            name = method::get;
            break;
        }
        // Either family's nodes may lead closer in the other family's DHT.
        if (families_.v4 && families_.v6) args.emplace("want", want_both());
        auto self = shared_from_this();
        endpoint ep = c.ep;
        bool sent = sender_.send_query(
            now, ep, name, std::move(args),
            [self, ep](timestamp t, const krpc::query_outcome& outcome) { self->on_outcome(t, ep, outcome); }, c.id,
            config_.slow_after);
        if (!sent) {
            c.st = state::failed;
            continue;
        }
        // send_query never calls back synchronously, so `c` is still valid here.
        c.st = state::in_flight;
        ++in_flight_[f];
        ++result_.queries;
        ++settled[f];
    }
    if (in_flight_[0] + in_flight_[1] == 0 && (slow_ == 0 || result_.responses > 0)) finish(now);
}

void traversal::on_outcome(timestamp now, const endpoint& ep, const krpc::query_outcome& outcome) {
    // Slow candidates are never evicted, so `c` tells which count the query is in.
    auto* c = find(ep);
    if (outcome.status == krpc::query_status::slow) {
        if (!c || c->st != state::in_flight) return;
        c->st = state::slow;
        --in_flight_[index(ep)];
        ++slow_;
        step(now);
        return;
    }
    if (c && c->st == state::slow) {
        --slow_;
        c->st = state::in_flight;
    } else {
        --in_flight_[index(ep)];
    }
    if (finished_) return;
    if (outcome.status != krpc::query_status::response) {
        if (outcome.status == krpc::query_status::timeout) ++result_.timeouts;
        if (c) c->st = state::failed;
        step(now);
        return;
    }
    const auto& body = outcome.reply->body;
    auto id = sender_id(body);
    if (!id) {
        if (c) c->st = state::failed;
        step(now);
        return;
    }
    ++result_.responses;
    int hop = 1;
    if (c) {
        hop = c->hop;
        if (!c->id || *c->id != *id) {
            // Learned (or corrected) the id: re-insert at the right distance.
            candidate updated = *c;
            updated.id = *id;
            updated.st = state::answered;
            if (const auto* token = bencode::find_string(body, "token")) updated.token = token->substr(0, 64);
            candidates_.erase(candidates_.begin() + (c - candidates_.data()));
            seen_.erase(ep);
            add_candidate(updated.id, updated.ep, updated.hop);
            if (auto* again = find(ep)) {
                again->st = state::answered;
                again->token = updated.token;
            }
        } else {
            c->st = state::answered;
            if (const auto* token = bencode::find_string(body, "token")) c->token = token->substr(0, 64);
        }
    }
    for (auto* decode : {&decode_nodes, &decode_nodes6})
        for (const auto& n : (*decode)(body))
            if (may_follow(ep, n.ep)) add_candidate(n.id, n.ep, hop + 1);
    if (kind_ == kind::get_peers) {
        for (const auto& p : decode_values(body)) {
            if (result_.peers.size() >= config_.max_peers) break;
            if (may_follow(ep, p) && peers_seen_.insert(p).second) result_.peers.push_back(p);
        }
    }
    if (kind_ == kind::get_item) consider_item(body);
    step(now);
}

void traversal::consider_item(const bencode::dict& body) {
    auto item = read_item(body, item_salt_);
    // Another key's item, an old one or a forged one does not count.
    if (!item || item->key != item_key_) return;
    if (result_.item && item->seq <= result_.item->seq) return;
    if (item->value.size() > max_item_value || !verify_item(*item)) return;
    result_.item = std::move(item);
}

void traversal::finish(timestamp now) {
    if (finished_) return;
    finished_ = true;
    std::size_t taken[2] = {0, 0};
    for (const auto& c : candidates_) {
        if (c.st != state::answered || !c.id || taken[index(c.ep)] >= config_.k) continue;
        ++taken[index(c.ep)];
        if (result_.closest.empty()) result_.hops = c.hop;
        result_.closest.push_back({*c.id, c.ep});
        result_.tokens.push_back(c.token);
    }
    result_.elapsed = now - started_;
    auto done = std::move(done_);
    if (done) done(now, result_);
}

} // namespace ovl::dht
