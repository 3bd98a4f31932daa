// A minimal HTTP endpoint (Boost.Beast) serving the latest metrics text at GET /metrics.
// It runs its own io_context on its own thread, so a slow scraper never delays the node:
// the node's loop publishes a fresh snapshot now and then, and scrapes read the copy.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/log.hpp"

#include <memory>
#include <string>

namespace ovl::cli {

class metrics_server {
public:
    // Binds at once; throws std::system_error when `bind` cannot be bound.
    metrics_server(const endpoint& bind, logger_ptr log);
    ~metrics_server();
    metrics_server(const metrics_server&) = delete;
    metrics_server& operator=(const metrics_server&) = delete;

    endpoint local_endpoint() const;
    // Replaces the text scrapes get (Prometheus text format). Safe from any thread.
    void publish(std::string text);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ovl::cli
