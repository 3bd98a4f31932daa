// Benchmark: KRPC queries one DHT node core answers per second of CPU on one core,
// with an even mix of ping, find_node and get_peers (8 nodes per reply), and the heap
// bytes one stored peer costs. This measures the sans-I/O core (decode, handle,
// encode); socket system calls are not included.
//
//   build/tests/bench/dht_queries [seconds]
#include "../dht/direct_wire.hpp"

#include "dht/krpc/codec.hpp"

#include <malloc.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>

using namespace ovl;
using namespace ovl::dht;

namespace {

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

endpoint source(std::uint32_t i) { return endpoint{ip_address::v4(0x0A000000u + i), static_cast<std::uint16_t>(1024 + i % 60000)}; }

} // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;

    // A node with a realistic routing table: bootstrap it among 400 others.
    test::direct_wire wire;
    auto self_ep = *endpoint::parse("192.0.2.1:6881");
    auto& target = wire.add(self_ep);
    for (std::uint32_t i = 0; i < 400; ++i) {
        node_config c;
        c.bootstrap = {self_ep};
        auto& n = wire.add(endpoint{ip_address::v4(0xC6120000u + i), 6881}, c);
        n.bootstrap(wire.now);
        wire.pump();
    }
    std::printf("routing table: %zu nodes in %zu buckets\n", target.table().size(), target.table().bucket_count());

    random_source rng(7);
    std::vector<std::pair<endpoint, bytes>> queries;
    for (std::uint32_t i = 0; i < 3000; ++i) {
        auto id = node_id::random(rng);
        bencode::dict args;
        std::string method;
        switch (i % 3) {
        case 0: method = "ping"; args = ping_args(id); break;
        case 1: method = "find_node"; args = find_node_args(id, node_id::random(rng)); break;
        default: method = "get_peers"; args = get_peers_args(id, node_id::random(rng)); break;
        }
        auto q = krpc::message::query(std::string("\x01\x02", 2), method, std::move(args));
        // Read-only senders: the node must not spend the run pinging its load clients.
        q.read_only = true;
        queries.emplace_back(source(i), krpc::encode(q));
    }

    std::uint64_t handled = 0, reply_bytes = 0;
    const double start = thread_cpu_seconds();
    double now_cpu = start;
    while (now_cpu - start < seconds) {
        for (int batch = 0; batch < 3000; ++batch) {
            const auto& [from, payload] = queries[handled % queries.size()];
            target.on_datagram(wire.now, from, payload);
            while (auto d = target.poll_transmit()) reply_bytes += d->payload.size();
            ++handled;
        }
        now_cpu = thread_cpu_seconds();
    }
    const double elapsed = now_cpu - start;
    std::printf("queries: %llu in %.2f s CPU -> %.0f queries/s per core (mix ping/find_node/get_peers, mean reply %.0f B)\n",
                static_cast<unsigned long long>(handled), elapsed, static_cast<double>(handled) / elapsed,
                static_cast<double>(reply_bytes) / static_cast<double>(handled));

    // Memory per stored peer: 100,000 peers over 10,000 info-hashes.
    peer_store_limits limits;
    limits.max_peers = 1'000'000;
    limits.max_torrents = 100'000;
    const auto before = mallinfo2().uordblks;
    {
        peer_store store(limits);
        timestamp t{std::chrono::seconds(1)};
        std::vector<node_id> hashes;
        for (int i = 0; i < 10000; ++i) hashes.push_back(node_id::random(rng));
        for (std::uint32_t i = 0; i < 100000; ++i) store.announce(t, hashes[i % hashes.size()], source(i));
        const auto after = mallinfo2().uordblks;
        std::printf("storage: %zu peers in %zu torrents, %.1f heap bytes per peer (store's own estimate %.1f)\n",
                    store.peer_count(), store.torrent_count(),
                    static_cast<double>(after - before) / static_cast<double>(store.peer_count()),
                    static_cast<double>(store.memory_bytes()) / static_cast<double>(store.peer_count()));
    }
    return 0;
}
