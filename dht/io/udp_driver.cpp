#include "dht/io/udp_driver.hpp"

#include "dht/io/udp_segmentation.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
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
// Receive queue asked of the kernel for each core socket.
constexpr int receive_queue_bytes = 4 << 20;
// Batches read per wake-up before other handlers (timers, posts, signals) get a turn.
constexpr int batches_per_wakeup = 8;

// Room for one int of ancillary data: a datagram's own TTL (IPv4) or hop limit (IPv6), a
// send's segment size (UDP_SEGMENT), or a received run's segment size (UDP_GRO).
struct ancillary_data {
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> buf{};
};

void attach_ttl(msghdr& h, ancillary_data& c, bool v4, std::uint8_t ttl) {
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

// Asks the send to be split into datagrams of `size` bytes (UDP_SEGMENT).
void attach_segment_size(msghdr& h, ancillary_data& c, std::size_t size) {
    h.msg_control = c.buf.data();
    h.msg_controllen = CMSG_SPACE(sizeof(std::uint16_t));
    cmsghdr* cm = CMSG_FIRSTHDR(&h);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto value = static_cast<std::uint16_t>(size);
    std::memcpy(CMSG_DATA(cm), &value, sizeof value);
}

// The segment size of a run received whole (UDP_GRO), or 0 for a single datagram.
std::size_t received_segment_size(msghdr& h) {
    for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm; cm = CMSG_NXTHDR(&h, cm)) {
        if (cm->cmsg_level != SOL_UDP || cm->cmsg_type != UDP_GRO) continue;
        int size = 0;
        std::memcpy(&size, CMSG_DATA(cm), sizeof size);
        return size > 0 ? static_cast<std::size_t>(size) : 0;
    }
    return 0;
}

// Datagrams d[0..count) to one destination as one msghdr for sendmsg/sendmmsg, segmented
// when count > 1; the storage it points into is the caller's and must outlive the call.
void describe(const outgoing_datagram* d, std::size_t count, bool v4, msghdr& h, sockaddr_storage& dest, iovec* v,
              ancillary_data& control) {
    const auto to = to_asio(d[0].to);
    std::memcpy(&dest, to.data(), to.size());
    for (std::size_t i = 0; i < count; ++i) v[i] = {const_cast<std::uint8_t*>(d[i].payload.data()), d[i].payload.size()};
    h = {};
    h.msg_iov = v;
    h.msg_iovlen = count;
    h.msg_name = &dest;
    h.msg_namelen = static_cast<socklen_t>(to.size());
    if (count > 1) attach_segment_size(h, control, d[0].payload.size());
    else if (d[0].ttl != 0) attach_ttl(h, control, v4, d[0].ttl);
}

// Whether the kernel offers UDP_SEGMENT on `fd` (Linux 4.18+), and asks for UDP_GRO (5.0+;
// without it, runs that arrive whole are split by the kernel instead).
bool enable_segmentation(int fd) {
    int size = 0;
    socklen_t len = sizeof size;
    const bool segment = ::getsockopt(fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
    const int on = 1;
    ::setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on);
    return segment;
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
        segmentation = open(socket, bind_to);
        socket_is_v4 = bind_to.address.is_v4();
        receive(socket);
        asio::post(io, [this] { flush(); });
    }

    // Opens and binds a core socket; returns whether it can send segmented runs.
    bool open(udp::socket& s, const endpoint& bind_to) {
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
        // A burst of queries must not overflow the kernel's default queue (~200 small
        // datagrams) while the loop is busy; the kernel caps this at net.core.rmem_max.
        boost::system::error_code ignored;
        s.set_option(asio::socket_base::receive_buffer_size(receive_queue_bytes), ignored);
        return enable_segmentation(s.native_handle());
    }

    void add_family_socket(const endpoint& bind_to) {
        if (bind_to.address.is_v4() == socket_is_v4 || other)
            throw std::invalid_argument("a second socket must be of the other address family: " + bind_to.to_string());
        udp::socket s(io);
        other_segmentation = open(s, bind_to);
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
            const int n = read_batch(s, [this](timestamp now, const endpoint& from, bytes_view data) {
                core.on_datagram(now, from, data);
            });
            if (n <= 0) break;
            flush();
            if (static_cast<std::size_t>(n) < batch_size) break;
        }
    }

    // Reads what is queued on `s`, up to one batch (recvmmsg), and hands every datagram to
    // `deliver`, a run received whole (UDP_GRO) split into its datagrams. Returns how many
    // messages were read; 0 or less when nothing was waiting.
    template <class Deliver>
    int read_batch(udp::socket& s, Deliver deliver) {
        for (std::size_t i = 0; i < batch_size; ++i) {
            iov[i] = {buffer.data() + i * receive_buffer_size, receive_buffer_size};
            in[i] = {};
            in[i].msg_hdr.msg_iov = &iov[i];
            in[i].msg_hdr.msg_iovlen = 1;
            in[i].msg_hdr.msg_name = &senders[i];
            in[i].msg_hdr.msg_namelen = sizeof senders[i];
            in[i].msg_hdr.msg_control = in_control[i].buf.data();
            in[i].msg_hdr.msg_controllen = in_control[i].buf.size();
        }
        const int n = ::recvmmsg(s.native_handle(), in.data(), batch_size, MSG_DONTWAIT, nullptr);
        if (n <= 0) {
            // EAGAIN: drained. Other errors (ICMP reports and the like) leave the socket usable.
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) log->debug("receive error: {}", std::strerror(errno));
            return n;
        }
        const auto now = steady_now();
        for (int i = 0; i < n; ++i) {
            const auto from = from_sockaddr(senders[i]);
            const bytes_view data(buffer.data() + static_cast<std::size_t>(i) * receive_buffer_size, in[i].msg_len);
            const std::size_t segment = received_segment_size(in[i].msg_hdr);
            if (segment == 0) {
                deliver(now, from, data);
                continue;
            }
            for (std::size_t at = 0; at < data.size(); at += segment)
                deliver(now, from, data.subspan(at, std::min(segment, data.size() - at)));
        }
        return n;
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
                if (other_outgoing.size() == batch_size) send_batch(*other, other_outgoing, !socket_is_v4, other_segmentation);
            } else if (d->from_secondary_port) {
                send_secondary(*d, socket, secondary);
            } else if (d->socket != 0) {
                // Consecutive datagrams for one extra socket go out as one batch.
                if (!extra_outgoing.empty() && extra_outgoing.front().socket != d->socket) send_extras();
                extra_outgoing.push_back(std::move(*d));
                if (extra_outgoing.size() == batch_size) send_extras();
            } else {
                outgoing.push_back(std::move(*d));
                if (outgoing.size() == batch_size) send_batch(socket, outgoing, socket_is_v4, segmentation);
            }
        }
        send_batch(socket, outgoing, socket_is_v4, segmentation);
        if (other) send_batch(*other, other_outgoing, !socket_is_v4, other_segmentation);
        send_extras();
        while (auto n = core.poll_released_socket()) extras.erase(*n);
        arm_timer();
    }

    // Sends a batch with sendmmsg, each run of datagrams segment_run() allows as one
    // segmented send while the socket can. Sends never block the loop: a full socket buffer
    // (or any other error) drops what failed, which the cores' timeouts and retransmissions
    // already cope with.
    void send_batch(udp::socket& s, std::vector<outgoing_datagram>& batch, bool v4, bool& segmented) {
        std::size_t messages = 0;
        for (std::size_t at = 0; at < batch.size(); ++messages) {
            const std::size_t count = segmented ? segment_run(std::span(batch).subspan(at)) : 1;
            out[messages] = {};
            describe(&batch[at], count, v4, out[messages].msg_hdr, destinations[messages], &out_iov[at],
                     out_control[messages]);
            first_of[messages] = at;
            at += count;
        }
        first_of[messages] = batch.size();
        std::size_t sent = 0;
        while (sent < messages) {
            const int n = ::sendmmsg(s.native_handle(), out.data() + sent, static_cast<unsigned>(messages - sent), 0);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
                continue;
            }
            const int error = errno;
            const std::size_t first = first_of[sent], count = first_of[sent + 1] - first;
            // EIO: a device on the route cannot checksum segments (so none will be sent
            // segmented again); EINVAL: a segment larger than the route's MTU. Either way
            // this run goes out datagram by datagram.
            if (count > 1 && (error == EIO || error == EINVAL)) {
                if (error == EIO) segmented = false;
                log->debug("segmented send to {} failed ({}); sending {} datagrams one by one",
                           batch[first].to.to_string(), std::strerror(error), count);
                send_each(s, batch, first, count, v4);
            } else {
                log->debug("dropped {} datagram(s) to {}: {}", count, batch[first].to.to_string(), std::strerror(error));
            }
            ++sent;
        }
        batch.clear();
    }

    void send_each(udp::socket& s, const std::vector<outgoing_datagram>& batch, std::size_t first, std::size_t count,
                   bool v4) {
        for (std::size_t i = first; i < first + count; ++i) {
            msghdr h;
            sockaddr_storage dest{};
            ancillary_data control;
            describe(&batch[i], 1, v4, h, dest, &out_iov[i], control);
            if (::sendmsg(s.native_handle(), &h, 0) < 0)
                log->debug("dropped datagram to {}: {}", batch[i].to.to_string(), std::strerror(errno));
        }
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

    void send_extras() {
        if (extra_outgoing.empty()) return;
        auto* x = extra_socket(extra_outgoing.front().socket);
        if (!x) {
            extra_outgoing.clear();
            return;
        }
        send_batch(x->socket, extra_outgoing, socket_is_v4, x->segmentation);
    }

    // Extra socket n, opened on first use on the core socket's address and an ephemeral
    // port; nullptr (logged) when it cannot be opened.
    struct extra {
        udp::socket socket;
        bool segmentation;   // see udp_segmentation.hpp
        std::uint64_t serial;
    };
    extra* extra_socket(std::uint16_t n) {
        if (auto it = extras.find(n); it != extras.end()) return &it->second;
        udp::socket s(io);
        bool segmented = false;
        try {
            segmented = open(s, endpoint{from_asio(socket.local_endpoint()).address, 0});
        } catch (const std::system_error& e) {
            log->debug("cannot open extra socket {}: {}", n, e.what());
            return nullptr;
        }
        auto& x = extras.emplace(n, extra{std::move(s), segmented, ++extra_serial}).first->second;
        receive_extra(n, x.serial);
        return &x;
    }

    // Reads an extra socket until it is released (the serial tells a socket opened again
    // under the same number apart from the one this wait was for).
    void receive_extra(std::uint16_t n, std::uint64_t serial) {
        extras.at(n).socket.async_wait(udp::socket::wait_read, [this, n, serial](const boost::system::error_code& ec) {
            if (ec == asio::error::operation_aborted) return;
            for (int round = 0; round < batches_per_wakeup; ++round) {
                auto it = extras.find(n);
                if (it == extras.end() || it->second.serial != serial) return;
                const int read = read_batch(it->second.socket, [this, n](timestamp now, const endpoint& from, bytes_view data) {
                    core.on_extra_datagram(now, n, from, data);
                });
                if (read <= 0) break;
                flush();
                if (static_cast<std::size_t>(read) < batch_size) break;
            }
            if (auto it = extras.find(n); it != extras.end() && it->second.serial == serial) receive_extra(n, serial);
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
    std::map<std::uint16_t, extra> extras;
    std::uint64_t extra_serial = 0;
    std::vector<outgoing_datagram> extra_outgoing;
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
    std::array<ancillary_data, batch_size> out_control{};
    // Index in the batch of each message's first datagram, and the batch's size after the last.
    std::array<std::size_t, batch_size + 1> first_of{};
    std::array<ancillary_data, batch_size> in_control{};
    // Whether each core socket sends segmented runs (see udp_segmentation.hpp).
    bool segmentation = false;
    bool other_segmentation = false;
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
