#include "dht/krpc/rpc_manager.hpp"

namespace ovl::krpc {

namespace {
std::string tid_bytes(std::uint16_t tid) {
    return std::string{static_cast<char>(tid >> 8), static_cast<char>(tid & 0xff)};
}
} // namespace

rpc_manager::rpc_manager(random_source& rng, std::size_t max_outstanding)
    : rng_(rng), max_outstanding_(max_outstanding) {}

std::optional<std::string> rpc_manager::begin(timestamp now, const endpoint& to, duration timeout,
                                              reply_handler handler, duration slow_after) {
    if (pending_.size() >= max_outstanding_) return std::nullopt;
    std::uint16_t tid;
    do {
        tid = static_cast<std::uint16_t>(rng_.next_u64());
    } while (pending_.contains(tid));
    auto sequence = next_sequence_++;
    pending_.emplace(tid, pending_query{to, now, now + timeout, std::move(handler), sequence});
    deadlines_.push({now + timeout, tid, sequence});
    if (slow_after > duration::zero() && slow_after < timeout) deadlines_.push({now + slow_after, tid, sequence, true});
    return tid_bytes(tid);
}

bool rpc_manager::on_reply(timestamp now, const endpoint& from, const message& reply) {
    if (reply.transaction_id.size() != 2) return false;
    auto tid = static_cast<std::uint16_t>(static_cast<std::uint8_t>(reply.transaction_id[0]) << 8 |
                                          static_cast<std::uint8_t>(reply.transaction_id[1]));
    auto it = pending_.find(tid);
    if (it == pending_.end() || it->second.to != from) return false;
    auto query = std::move(it->second);
    pending_.erase(it);
    query_outcome outcome;
    outcome.status = reply.kind == message_kind::error ? query_status::error : query_status::response;
    outcome.remote = from;
    outcome.reply = &reply;
    outcome.round_trip = now - query.sent;
    // The handler may start new queries; the entry is already gone so that is safe.
    query.handler(now, outcome);
    return true;
}

void rpc_manager::on_timeout(timestamp now) {
    // Handlers run after the heap is drained: they may begin new queries.
    std::vector<pending_query> expired;
    std::vector<std::pair<std::uint16_t, std::uint64_t>> slow;
    while (!deadlines_.empty() && deadlines_.top().deadline <= now) {
        auto top = deadlines_.top();
        deadlines_.pop();
        auto it = pending_.find(top.tid);
        // A reused id carries a different sequence number: that entry is a newer query.
        if (it == pending_.end() || it->second.sequence != top.sequence) continue;
        if (top.slow) {
            slow.emplace_back(top.tid, top.sequence);
            continue;
        }
        expired.push_back(std::move(it->second));
        pending_.erase(it);
    }
    for (auto [tid, sequence] : slow) {
        // An earlier handler may have ended the query or reused its id.
        auto it = pending_.find(tid);
        if (it == pending_.end() || it->second.sequence != sequence) continue;
        query_outcome outcome;
        outcome.status = query_status::slow;
        outcome.remote = it->second.to;
        outcome.round_trip = now - it->second.sent;
        auto handler = it->second.handler;
        handler(now, outcome);
    }
    for (auto& q : expired) {
        query_outcome outcome;
        outcome.status = query_status::timeout;
        outcome.remote = q.to;
        outcome.round_trip = now - q.sent;
        q.handler(now, outcome);
    }
}

std::optional<timestamp> rpc_manager::next_deadline() const {
    // Stale heap entries may report an early deadline; waking early is harmless.
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.top().deadline;
}

} // namespace ovl::krpc
