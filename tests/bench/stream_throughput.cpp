// Benchmark: bytes per second of CPU that one secure stream moves between two stream
// objects in one process (both ends on one core: sealing, opening, acks, reassembly and
// the in-test path), over a clean path and over one with 5% loss and reordering each
// way. Virtual time is also reported: the goodput the congestion controller reaches on
// a 20 ms round trip. No sockets: this is the core's cost, not the kernel's.
//
//   build/tests/bench/stream_throughput [MiB]
#include "../overlay/stream_harness.hpp"

#include <time.h>

#include <cstdio>
#include <cstdlib>

using namespace ovl;
using namespace ovl::test;

namespace {

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void run(const char* name, link_profile link, std::size_t mib) {
    stream_pair p(7, link, link);
    random_source data_rng(7);
    const auto payload = random_bytes(data_rng, mib << 20);
    if (!p.run_until([&] { return p.b && p.b->current_state() == overlay::secure_stream::state::open; }, 10s)) {
        std::printf("%s: handshake failed\n", name);
        std::exit(1);
    }
    const auto start_virtual = p.now;
    const double start = thread_cpu_seconds();
    const auto received = transfer(p, payload, 3600s);
    const double cpu = thread_cpu_seconds() - start;
    if (received != payload) {
        std::printf("%s: transfer incomplete or corrupted\n", name);
        std::exit(1);
    }
    const double mb = static_cast<double>(payload.size()) / 1e6;
    const auto s = p.a->stats();
    std::printf("%-28s %6.1f MB in %.3f s CPU -> %7.1f MB/s per core; virtual %6.2f s -> %6.1f MB/s; "
                "retransmits %llu, losses detected %llu, srtt %.1f ms\n",
                name, mb, cpu, mb / cpu, to_seconds(p.now - start_virtual), mb / to_seconds(p.now - start_virtual),
                static_cast<unsigned long long>(s.retransmits),
                static_cast<unsigned long long>(s.packets_lost_detected), to_seconds(s.srtt) * 1e3);
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t mib = argc > 1 ? static_cast<std::size_t>(std::atoi(argv[1])) : 64;
    run("clean path (10 ms each way)", link_profile{10ms, 0ms, 0.0}, mib);
    run("5% loss + reordering", link_profile{10ms, 5ms, 0.05}, mib);
    return 0;
}
