// Everything a DHT node can be told at construction, with the defaults it runs with.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/time.hpp"
#include "dht/ip_rate_limiter.hpp"
#include "dht/item_store.hpp"
#include "dht/messages.hpp"
#include "dht/node_id.hpp"
#include "dht/peer_store.hpp"
#include "dht/routing_table.hpp"
#include "dht/traversal.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace ovl::dht {

struct node_config {
    // Our id; the node draws a random one when this is all zeros.
    node_id id{};
    // Nodes to join through, and nodes remembered from an earlier run.
    std::vector<endpoint> bootstrap;
    std::vector<contact> saved_nodes;
    // The families the node has sockets for. Lookups run over these; a dual-stack node
    // keeps both DHTs (BEP 32). Queries from either family are answered regardless.
    address_families families{true, false};

    routing_table_config table;
    peer_store_limits storage;
    // BEP 44 items stored for others.
    item_store_limits items;
    traversal_config lookup;

    duration query_timeout = std::chrono::seconds(3);
    // Routing-table upkeep: how often it runs, and how idle a bucket may get.
    duration maintenance_interval = std::chrono::seconds(5);
    duration bucket_refresh_after = std::chrono::minutes(15);
    // Most peers returned in one get_peers reply (50 compact peers fit a datagram).
    std::size_t max_values_per_reply = 50;
    // Datagrams taken in per source address, per /64 for IPv6 (on_datagram); beyond it
    // they are dropped unread. Raise it only for labs and load tests where many nodes
    // share an address or an IPv6 /64.
    ip_rate_limit per_ip;
    // Datagrams waiting to be sent; beyond this the node drops instead of queueing.
    std::size_t max_outbox = 16384;
    // BEP 43: never answer queries' senders into our table; we only ask.
    bool read_only = false;
    // Client version sent in "v": two letters and a two-byte version.
    std::string version = std::string("OV\x00\x01", 4);
};

} // namespace ovl::dht
