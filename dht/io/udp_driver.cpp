#include "dht/io/udp_driver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <system_error>

namespace ovl::io {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// Large enough for any UDP payload over IPv4, so nothing is truncated silently; the
// core itself drops what it considers oversized (8 KiB for KRPC).
constexpr std::size_t receive_buffer_size = 64 * 1024;
// Datagrams read (recvmmsg) or written (sendmmsg) per system call. Under load one wake-up
// then serves a whole batch: one clock read, one flush and one timer check per batch.
constexpr std::size_t batch_size = 32;
// Batches read per wake-up before other handlers (timers, posts, signals) get a turn.
constexpr int batches_per_wakeup = 8;

// Room for one int of ancillary data: a datagram's own TTL (IPv4) or hop limit (IPv6).
struct ttl_control {
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> buf{};
};

void attach_ttl(msghdr& h, ttl_control& c, bool v4, std::uint8_t ttl) {
    h.msg_control = c.buf.data();
    h.msg_controllen = c.buf.size();
    cmsghdr* cm = CMSG_FIRSTHDR(&h);
    cm->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
    cm->cmsg_type = v4 ? IP_TTL : IPV6_HOPLIMIT;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    const int value = ttl;
    std::memcpy(CMSG_DATA(cm), &value, sizeof value);
}

udp::endpoint to_asio(const endpoint& ep) {
    if (ep.address.is_v4()) return {asio::ip::address_v4(ep.address.v4_value()), ep.port};
    asio::ip::address_v6::bytes_type b{};
    std::copy_n(ep.address.data(), b.size(), b.begin());
    return {asio::ip::address_v6(b), ep.port};
}

// One datagram as a msghdr for sendmsg/sendmmsg; the storage it points into is the
// caller's and must outlive the call.
void describe(const outgoing_datagram& d, bool v4, msghdr& h, sockaddr_storage& dest, iovec& v, ttl_control& ttl) {
    const auto to = to_asio(d.to);
    std::memcpy(&dest, to.data(), to.size());
    v = {const_cast<std::uint8_t*>(d.payload.data()), d.payload.size()};
    h = {};
    h.msg_iov = &v;
    h.msg_iovlen = 1;
    h.msg_name = &dest;
    h.msg_namelen = static_cast<socklen_t>(to.size());
    if (d.ttl != 0) attach_ttl(h, ttl, v4, d.ttl);
}

endpoint from_sockaddr(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
        return {ip_address::v4(ntohl(a.sin_addr.s_addr)), ntohs(a.sin_port)};
    }
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), a.sin6_addr.s6_addr, b.size());
    const bool v4_mapped = std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
                           b[10] == 0xff && b[11] == 0xff;
    if (v4_mapped)
        return {ip_address::v4(std::uint32_t(b[12]) << 24 | std::uint32_t(b[13]) << 16 | std::uint32_t(b[14]) << 8 | b[15]),
                ntohs(a.sin6_port)};
    return {ip_address::v6(b), ntohs(a.sin6_port)};
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
        : core(c), log(std::move(l)), socket(io), timer(io), buffer(receive_buffer_size * batch_size) {
        open(socket, bind_to);
        socket_is_v4 = bind_to.address.is_v4();
        receive(socket);
        asio::post(io, [this] { flush(); });
    }

    void open(udp::socket& s, const endpoint& bind_to) {
        const auto local = to_asio(bind_to);
        boost::system::error_code ec;
        s.open(local.protocol(), ec);
        // IPv6 sockets carry IPv6 only: a dual-stack core has its own IPv4 socket (which an
        // IPv6 socket on [::] would otherwise block by claiming the same IPv4 port), and an
        // IPv4 peer arriving as a mapped address could not be answered from this socket.
        if (!ec && bind_to.address.is_v6()) s.set_option(asio::ip::v6_only(true), ec);
        if (!ec) s.bind(local, ec);
        // Sends never block the loop: a full socket buffer drops the datagram instead,
        // which KRPC's timeouts and retries already cope with.
        if (!ec) s.non_blocking(true, ec);
        if (ec) throw std::system_error(std::error_code(ec.value(), std::system_category()), "bind " + bind_to.to_string());
    }

    void add_family_socket(const endpoint& bind_to) {
        if (bind_to.address.is_v4() == socket_is_v4 || other)
            throw std::invalid_argument("a second socket must be of the other address family: " + bind_to.to_string());
        udp::socket s(io);
        open(s, bind_to);
        other.emplace(std::move(s));
        receive(*other);
    }

    // Waits for a socket to become readable, then reads what is queued in batches.
    void receive(udp::socket& s) {
        s.async_wait(udp::socket::wait_read, [this, &s](const boost::system::error_code& ec) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) log->debug("wait error: {}", ec.message());
            else read_batches(s);
            receive(s);
        });
    }

    void read_batches(udp::socket& s) {
        for (int round = 0; round < batches_per_wakeup; ++round) {
            for (std::size_t i = 0; i < batch_size; ++i) {
                iov[i] = {buffer.data() + i * receive_buffer_size, receive_buffer_size};
                in[i] = {};
                in[i].msg_hdr.msg_iov = &iov[i];
                in[i].msg_hdr.msg_iovlen = 1;
                in[i].msg_hdr.msg_name = &senders[i];
                in[i].msg_hdr.msg_namelen = sizeof senders[i];
            }
            const int n = ::recvmmsg(s.native_handle(), in.data(), batch_size, MSG_DONTWAIT, nullptr);
            if (n <= 0) {
                // EAGAIN: drained. Other errors (ICMP reports and the like) leave the socket usable.
                if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                    log->debug("receive error: {}", std::strerror(errno));
                break;
            }
            const auto now = steady_now();
            for (int i = 0; i < n; ++i)
                core.on_datagram(now, from_sockaddr(senders[i]),
                                 bytes_view(buffer.data() + static_cast<std::size_t>(i) * receive_buffer_size, in[i].msg_len));
            flush();
            if (static_cast<std::size_t>(n) < batch_size) break;
        }
    }

    void flush() {
        while (auto d = core.poll_transmit()) {
            if (d->to.address.is_v4() != socket_is_v4) {
                if (!other || d->socket != 0) {
                    log->debug("dropped datagram to {}: no such socket of its address family", d->to.to_string());
                    continue;
                }
                if (d->from_secondary_port) {
                    send_secondary(*d, *other, other_secondary);
                    continue;
                }
                other_outgoing.push_back(std::move(*d));
                if (other_outgoing.size() == batch_size) send_batch(*other, other_outgoing, !socket_is_v4);
            } else if (d->from_secondary_port) {
                send_secondary(*d, socket, secondary);
            } else if (d->socket != 0) {
                send_extra(*d);
            } else {
                outgoing.push_back(std::move(*d));
                if (outgoing.size() == batch_size) send_batch(socket, outgoing, socket_is_v4);
            }
        }
        send_batch(socket, outgoing, socket_is_v4);
        if (other) send_batch(*other, other_outgoing, !socket_is_v4);
        while (auto n = core.poll_released_socket()) extras.erase(*n);
        arm_timer();
    }

    void send_batch(udp::socket& s, std::vector<outgoing_datagram>& batch, bool v4) {
        const std::size_t count = batch.size();
        for (std::size_t i = 0; i < count; ++i) {
            out[i] = {};
            describe(batch[i], v4, out[i].msg_hdr, destinations[i], out_iov[i], out_ttl[i]);
        }
        std::size_t sent = 0;
        while (sent < count) {
            const int n = ::sendmmsg(s.native_handle(), out.data() + sent, static_cast<unsigned>(count - sent), 0);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
                continue;
            }
            // Sends never block the loop: a full socket buffer (or any other error) drops
            // this datagram, which KRPC's timeouts and retries already cope with.
            log->debug("dropped datagram to {}: {}", batch[sent].to.to_string(), std::strerror(errno));
            ++sent;
        }
        batch.clear();
    }

    void send_secondary(const outgoing_datagram& d, udp::socket& beside, std::optional<udp::socket>& slot) {
        boost::system::error_code ec;
        secondary_socket(beside, slot).send_to(asio::buffer(d.payload), to_asio(d.to), 0, ec);
        if (ec) log->debug("dropped datagram to {}: {}", d.to.to_string(), ec.message());
    }

    // A second socket on the address of `beside` and an ephemeral port, opened on first
    // use (one per address family). Nothing is read from it: it only sends dial-back probes.
    udp::socket& secondary_socket(udp::socket& beside, std::optional<udp::socket>& slot) {
        if (!slot) {
            slot.emplace(io);
            boost::system::error_code ec;
            const auto local = beside.local_endpoint();
            slot->open(local.protocol(), ec);
            if (!ec && local.address().is_v6()) slot->set_option(asio::ip::v6_only(true), ec);
            if (!ec) slot->bind(udp::endpoint(local.address(), 0), ec);
            if (!ec) slot->non_blocking(true, ec);
            if (ec) log->warn("cannot open the secondary (dial-back) socket: {}", ec.message());
        }
        return *slot;
    }

    void send_extra(const outgoing_datagram& d) {
        auto it = extras.find(d.socket);
        if (it == extras.end()) {
            udp::socket s(io);
            boost::system::error_code ec;
            s.open(socket.local_endpoint().protocol(), ec);
            if (!ec) s.bind(udp::endpoint(socket.local_endpoint().address(), 0), ec);
            if (!ec) s.non_blocking(true, ec);
            if (ec) {
                log->debug("cannot open extra socket {}: {}", d.socket, ec.message());
                return;
            }
            it = extras.emplace(d.socket, std::move(s)).first;
            receive_extra(d.socket);
        }
        msghdr h;
        sockaddr_storage dest{};
        iovec v;
        ttl_control control;
        describe(d, socket_is_v4, h, dest, v, control);
        if (::sendmsg(it->second.native_handle(), &h, 0) < 0)
            log->debug("dropped datagram to {} from extra socket {}: {}", d.to.to_string(), d.socket, std::strerror(errno));
    }

    // Extra sockets carry few packets (punch probes, then at most one stream), so they
    // are read one datagram per call.
    void receive_extra(std::uint16_t n) {
        extras.at(n).async_wait(udp::socket::wait_read, [this, n](const boost::system::error_code& ec) {
            auto it = extras.find(n);
            if (ec == asio::error::operation_aborted || it == extras.end()) return;
            for (;;) {
                udp::endpoint sender;
                boost::system::error_code rec;
                const auto len = it->second.receive_from(asio::buffer(buffer.data(), receive_buffer_size), sender, 0, rec);
                if (rec) break;
                core.on_extra_datagram(steady_now(), n, from_asio(sender), bytes_view(buffer.data(), len));
            }
            flush();
            if (extras.contains(n)) receive_extra(n);
        });
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
    // The dual-stack socket of the other family, and its send batch.
    std::optional<udp::socket> other;
    std::vector<outgoing_datagram> other_outgoing;
    std::optional<udp::socket> secondary;
    std::optional<udp::socket> other_secondary;
    std::map<std::uint16_t, udp::socket> extras;
    bool socket_is_v4 = true;
    asio::steady_timer timer;
    std::optional<timestamp> armed;
    std::uint64_t timer_generation = 0;
    std::vector<std::uint8_t> buffer;
    std::array<mmsghdr, batch_size> in{};
    std::array<iovec, batch_size> iov{};
    std::array<sockaddr_storage, batch_size> senders{};
    std::vector<outgoing_datagram> outgoing;
    std::array<mmsghdr, batch_size> out{};
    std::array<iovec, batch_size> out_iov{};
    std::array<sockaddr_storage, batch_size> destinations{};
    std::array<ttl_control, batch_size> out_ttl{};
    std::optional<asio::signal_set> signals;
};

udp_driver::udp_driver(datagram_core& core, const endpoint& bind_to, logger_ptr log)
    : impl_(std::make_unique<impl>(core, bind_to, std::move(log))) {}

udp_driver::~udp_driver() = default;

endpoint udp_driver::local_endpoint() const { return from_asio(impl_->socket.local_endpoint()); }

void udp_driver::add_family_socket(const endpoint& bind_to) { impl_->add_family_socket(bind_to); }

std::optional<endpoint> udp_driver::local_endpoint(ip_family family) const {
    if ((family == ip_family::v4) == impl_->socket_is_v4) return local_endpoint();
    if (impl_->other) return from_asio(impl_->other->local_endpoint());
    return std::nullopt;
}

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
