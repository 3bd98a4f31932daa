// Simulator throughput: N hosts, half public echo servers, half clients behind NATs (port-
// restricted and symmetric, alternating) each keeping a window of pings in flight to one
// server. Prints simulated packets per wall-clock second on one core.
//
//   sim_throughput [hosts=10000] [simulated_seconds=60] [window=4]
#include "sim/network.hpp"
#include "sim/site.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace {

using namespace ovl;
using namespace ovl::sim;

// Echo server when `peer` is empty; otherwise a client that sends `window` pings and
// answers every reply with another ping.
class ping_core final : public datagram_core {
public:
    ping_core() = default;
    ping_core(endpoint peer, int window) {
        for (int i = 0; i < window; ++i) out_.push_back({peer, bytes(64, 0x5a)});
    }
    void on_datagram(timestamp, const endpoint& from, bytes_view payload) override {
        out_.push_back({from, bytes(payload.begin(), payload.end())});
    }
    std::optional<outgoing_datagram> poll_transmit() override {
        if (out_.empty()) return std::nullopt;
        outgoing_datagram d = std::move(out_.back());
        out_.pop_back();
        return d;
    }
    std::optional<timestamp> next_deadline() const override { return std::nullopt; }
    void on_timeout(timestamp) override {}

private:
    std::vector<outgoing_datagram> out_;
};

} // namespace

int main(int argc, char** argv) {
    const int hosts = argc > 1 ? std::atoi(argv[1]) : 10000;
    const int seconds = argc > 2 ? std::atoi(argv[2]) : 60;
    const int window = argc > 3 ? std::atoi(argv[3]) : 4;
    const int pairs = hosts / 2;

    network net(1);
    address_plan plan;
    const link_params access = make_link(std::chrono::milliseconds(20), std::chrono::milliseconds(5));
    std::vector<std::unique_ptr<ping_core>> cores;
    std::vector<endpoint> servers;
    for (int i = 0; i < pairs; ++i) {
        const host_id h = net.add_public_host(plan.next_public(), access);
        cores.push_back(std::make_unique<ping_core>());
        servers.push_back(net.bind_udp(h, 6881, *cores.back()).local());
    }
    for (int i = 0; i < pairs; ++i) {
        const site s = add_site(net, plan, i % 2 ? "symmetric" : "port-restricted-cone", access);
        cores.push_back(std::make_unique<ping_core>(servers[static_cast<std::size_t>(i)], window));
        net.bind_udp(s.host, 6881, *cores.back());
    }

    const auto start = std::chrono::steady_clock::now();
    net.run_for(std::chrono::seconds(seconds));
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const statistics& st = net.stats();
    std::printf("hosts %d (half behind NATs), window %d, simulated %d s\n", hosts, window, seconds);
    std::printf("packets sent %llu, delivered %llu, dropped %llu, events %llu\n",
                static_cast<unsigned long long>(st.sent), static_cast<unsigned long long>(st.delivered),
                static_cast<unsigned long long>(st.dropped_total()),
                static_cast<unsigned long long>(st.events));
    std::printf("wall %.3f s: %.0f packets/s, %.0f events/s (one core)\n", wall,
                static_cast<double>(st.delivered) / wall, static_cast<double>(st.events) / wall);
    return 0;
}
