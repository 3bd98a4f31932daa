// What a lookup needs from the node that runs it: a way to send a query and get the
// outcome back, and the node's own id to put in the query.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"
#include "dht/bencode/value.hpp"
#include "dht/krpc/rpc_manager.hpp"
#include "dht/node_id.hpp"

#include <optional>
#include <string>

namespace ovl::dht {

class query_sender {
public:
    virtual ~query_sender() = default;
    // Sends `method` to `to`; `handler` runs exactly once with the reply or a timeout, and
    // before that once with `slow` if `slow_after` is positive and passes unanswered.
    // `expected` is the id we believe `to` has, so a timeout can count against it.
    // False when the query could not be sent (handler will not run).
    virtual bool send_query(timestamp now, const endpoint& to, const std::string& method, bencode::dict args,
                            krpc::reply_handler handler, std::optional<node_id> expected = std::nullopt,
                            duration slow_after = {}) = 0;
    virtual const node_id& self_id() const = 0;
};

} // namespace ovl::dht
