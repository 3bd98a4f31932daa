// Outstanding queries: assigns transaction ids, pairs replies with the query that
// asked for them (same id, same sender), and expires queries that got no reply.
// It does not send anything; the owner encodes and queues the query it registers.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/random.hpp"
#include "dht/base/time.hpp"
#include "dht/krpc/message.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace ovl::krpc {

// `slow` is provisional: the query asked for it (begin's `slow_after`) and has had no reply
// for that long; the handler runs once more with the final outcome.
enum class query_status { response, error, timeout, slow };

struct query_outcome {
    query_status status = query_status::timeout;
    endpoint remote;
    // The reply (response or error); null on timeout and slow.
    const message* reply = nullptr;
    duration round_trip{};
};

using reply_handler = std::function<void(timestamp now, const query_outcome&)>;

class rpc_manager {
public:
    explicit rpc_manager(random_source& rng, std::size_t max_outstanding = 4096);

    // Registers a query to `to` and returns its transaction id, or nullopt when too many
    // queries are outstanding (the caller must not send it). A positive `slow_after`
    // below `timeout` also reports the query as slow once, after that long unanswered.
    std::optional<std::string> begin(timestamp now, const endpoint& to, duration timeout, reply_handler handler,
                                     duration slow_after = {});
    // Pairs a response or error with its query and runs the handler. False when no query
    // matches: unsolicited, late, or from another endpoint than the one we asked.
    bool on_reply(timestamp now, const endpoint& from, const message& reply);
    // Expires every query whose deadline is at or before `now`, and reports the slow ones.
    void on_timeout(timestamp now);
    std::optional<timestamp> next_deadline() const;
    std::size_t outstanding() const { return pending_.size(); }

private:
    struct pending_query {
        endpoint to;
        timestamp sent;
        timestamp deadline;
        reply_handler handler;
        std::uint64_t sequence;
    };
    struct deadline_entry {
        timestamp deadline;
        std::uint16_t tid;
        std::uint64_t sequence;
        bool slow = false;
        bool operator>(const deadline_entry& o) const { return deadline > o.deadline; }
    };

    random_source& rng_;
    std::size_t max_outstanding_;
    std::uint64_t next_sequence_ = 0;
    std::unordered_map<std::uint16_t, pending_query> pending_;
    // Lazy deletion: entries whose query already finished are skipped when popped.
    std::priority_queue<deadline_entry, std::vector<deadline_entry>, std::greater<>> deadlines_;
};

} // namespace ovl::krpc
