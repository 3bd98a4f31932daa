// overlay-node's TCP port (the same number as its UDP port): accepts and closes at
// once. It lets clients tell UDP-blocked networks from dead bootstrap nodes
// (`overlay nat-check`). Runs its own thread so the UDP loop never waits on it.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/log.hpp"

#include <memory>

namespace ovl::cli {

class tcp_acceptor {
public:
    // Throws std::system_error when the address cannot be bound.
    tcp_acceptor(const endpoint& bind_to, logger_ptr log);
    ~tcp_acceptor();
    tcp_acceptor(const tcp_acceptor&) = delete;
    tcp_acceptor& operator=(const tcp_acceptor&) = delete;

    std::uint64_t accepted() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ovl::cli
