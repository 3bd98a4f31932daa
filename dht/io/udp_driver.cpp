#include "dht/io/udp_driver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <csignal>
#include <optional>
#include <system_error>

namespace ovl::io {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// Large enough for any UDP payload over IPv4, so nothing is truncated silently; the
// core itself drops what it considers oversized (8 KiB for KRPC).
constexpr std::size_t receive_buffer_size = 64 * 1024;

udp::endpoint to_asio(const endpoint& ep) {
    if (ep.address.is_v4()) return {asio::ip::address_v4(ep.address.v4_value()), ep.port};
    asio::ip::address_v6::bytes_type b{};
    std::copy_n(ep.address.data(), b.size(), b.begin());
    return {asio::ip::address_v6(b), ep.port};
}

endpoint from_asio(const udp::endpoint& ep) {
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    if (a.is_v4()) return {ip_address::v4(a.to_v4().to_uint()), ep.port()};
    auto raw = a.to_v6().to_bytes();
    std::array<std::uint8_t, 16> b{};
    std::copy(raw.begin(), raw.end(), b.begin());
    return {ip_address::v6(b), ep.port()};
}

std::chrono::steady_clock::time_point to_steady(timestamp t) {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(t.time_since_epoch()));
}

} // namespace

timestamp steady_now() { return timestamp_from_steady(std::chrono::steady_clock::now()); }

struct udp_driver::impl {
    impl(datagram_core& c, const endpoint& bind_to, logger_ptr l)
        : core(c), log(std::move(l)), socket(io), timer(io), buffer(receive_buffer_size) {
        const auto local = to_asio(bind_to);
        boost::system::error_code ec;
        socket.open(local.protocol(), ec);
        if (!ec) socket.bind(local, ec);
        // Sends never block the loop: a full socket buffer drops the datagram instead,
        // which KRPC's timeouts and retries already cope with.
        if (!ec) socket.non_blocking(true, ec);
        if (ec) throw std::system_error(std::error_code(ec.value(), std::system_category()), "bind " + bind_to.to_string());
        socket_is_v4 = local.address().is_v4();
        receive();
        asio::post(io, [this] { flush(); });
    }

    void receive() {
        socket.async_receive_from(asio::buffer(buffer), sender, [this](const boost::system::error_code& ec,
                                                                         std::size_t n) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) {
                // ICMP errors and the like: the socket is still usable.
                log->debug("receive error: {}", ec.message());
            } else {
                core.on_datagram(steady_now(), from_asio(sender), bytes_view(buffer.data(), n));
                flush();
            }
            receive();
        });
    }

    void flush() {
        while (auto d = core.poll_transmit()) send(*d);
        arm_timer();
    }

    void send(const outgoing_datagram& d) {
        if (d.to.address.is_v4() != socket_is_v4) {
            log->debug("dropped datagram to {}: address family differs from the socket's", d.to.to_string());
            return;
        }
        boost::system::error_code ec;
        auto& out = d.from_secondary_port ? secondary_socket() : socket;
        out.send_to(asio::buffer(d.payload), to_asio(d.to), 0, ec);
        if (ec) log->debug("dropped datagram to {}: {}", d.to.to_string(), ec.message());
    }

    // A second socket on the same address and an ephemeral port, opened on first use.
    // Nothing is read from it: it only sends dial-back probes.
    udp::socket& secondary_socket() {
        if (!secondary) {
            secondary.emplace(io);
            boost::system::error_code ec;
            secondary->open(socket.local_endpoint().protocol(), ec);
            if (!ec) secondary->bind(udp::endpoint(socket.local_endpoint().address(), 0), ec);
            if (!ec) secondary->non_blocking(true, ec);
            if (ec) log->warn("cannot open the secondary (dial-back) socket: {}", ec.message());
        }
        return *secondary;
    }

    void arm_timer() {
        auto deadline = core.next_deadline();
        if (deadline == armed) return;
        armed = deadline;
        // A handler that was already queued when the timer moved still runs; the
        // generation tells it that it is stale.
        const auto generation = ++timer_generation;
        if (!deadline) {
            timer.cancel();
            return;
        }
        timer.expires_at(to_steady(*deadline));
        timer.async_wait([this, generation](const boost::system::error_code& ec) {
            if (ec || generation != timer_generation) return;
            armed.reset();
            core.on_timeout(steady_now());
            flush();
        });
    }

    datagram_core& core;
    logger_ptr log;
    asio::io_context io;
    udp::socket socket;
    std::optional<udp::socket> secondary;
    bool socket_is_v4 = true;
    asio::steady_timer timer;
    std::optional<timestamp> armed;
    std::uint64_t timer_generation = 0;
    std::vector<std::uint8_t> buffer;
    udp::endpoint sender;
    std::optional<asio::signal_set> signals;
};

udp_driver::udp_driver(datagram_core& core, const endpoint& bind_to, logger_ptr log)
    : impl_(std::make_unique<impl>(core, bind_to, std::move(log))) {}

udp_driver::~udp_driver() = default;

endpoint udp_driver::local_endpoint() const { return from_asio(impl_->socket.local_endpoint()); }

void udp_driver::run() { impl_->io.run(); }

void udp_driver::stop() { impl_->io.stop(); }

void udp_driver::post(std::function<void(timestamp now)> fn) {
    asio::post(impl_->io, [this, fn = std::move(fn)] {
        fn(steady_now());
        impl_->flush();
    });
}

void udp_driver::schedule(duration delay, std::function<void(timestamp now)> fn) {
    auto timer = std::make_shared<asio::steady_timer>(impl_->io);
    timer->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
    timer->async_wait([this, timer, fn = std::move(fn)](const boost::system::error_code& ec) {
        if (ec) return;
        fn(steady_now());
        impl_->flush();
    });
}

void udp_driver::on_termination_signal(std::function<void(int signal)> fn) {
    auto& d = *impl_;
    if (!d.signals) d.signals.emplace(d.io, SIGINT, SIGTERM);
    struct waiter {
        impl* d;
        std::function<void(int)> fn;
        void operator()(const boost::system::error_code& ec, int signal) {
            if (ec) return;
            fn(signal);
            d->flush();
            d->signals->async_wait(waiter{d, fn});
        }
    };
    d.signals->async_wait(waiter{&d, std::move(fn)});
}

} // namespace ovl::io
