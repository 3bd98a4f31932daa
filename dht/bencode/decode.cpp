#include "dht/bencode/decode.hpp"

#include <libtorrent/bdecode.hpp>

namespace ovl::bencode {

namespace {

value convert(const lt::bdecode_node& n) {
    switch (n.type()) {
    case lt::bdecode_node::int_t:
        return value(static_cast<std::int64_t>(n.int_value()));
    case lt::bdecode_node::string_t:
        return value(std::string(n.string_value()));
    case lt::bdecode_node::list_t: {
        list l;
        l.reserve(static_cast<std::size_t>(n.list_size()));
        for (int i = 0; i < n.list_size(); ++i) l.push_back(convert(n.list_at(i)));
        return value(std::move(l));
    }
    case lt::bdecode_node::dict_t: {
        dict d;
        for (int i = 0; i < n.dict_size(); ++i) {
            auto [key, item] = n.dict_at(i);
            // Duplicate keys: the first one wins, as in libtorrent's own lookups.
            d.emplace(std::string(key), convert(item));
        }
        return value(std::move(d));
    }
    case lt::bdecode_node::none_t:
        break;
    }
    return value();
}

bool parse_into(lt::bdecode_node& node, std::span<const std::uint8_t> input, std::string* error,
                const decode_limits& limits) {
    if (input.size() > limits.max_input) {
        if (error) *error = "input too large";
        return false;
    }
    const auto* start = reinterpret_cast<const char*>(input.data());
    lt::error_code ec;
    int error_pos = 0;
    lt::bdecode(start, start + input.size(), node, ec, &error_pos, limits.max_depth, limits.max_tokens);
    if (ec) {
        if (error) *error = ec.message() + " at byte " + std::to_string(error_pos);
        return false;
    }
    return true;
}

} // namespace

std::optional<value> decode(std::span<const std::uint8_t> input, std::string* error,
                            const decode_limits& limits) {
    lt::bdecode_node node;
    if (!parse_into(node, input, error, limits)) return std::nullopt;
    // The conversion recurses, but bdecode has already bounded the depth.
    return convert(node);
}

struct flat_reader::impl {
    lt::bdecode_node root;
};

flat_reader::flat_reader() : impl_(std::make_unique<impl>()) {}
flat_reader::~flat_reader() = default;

bool flat_reader::parse(std::span<const std::uint8_t> input, std::string* error, const decode_limits& limits) {
    // bdecode() clears the node but keeps its token vector's capacity.
    return parse_into(impl_->root, input, error, limits);
}

value flat_reader::tree() const { return convert(impl_->root); }

namespace {

lt::bdecode_node find(const lt::bdecode_node& dict, std::string_view key) {
    if (dict.type() != lt::bdecode_node::dict_t) return {};
    return dict.dict_find(lt::string_view(key.data(), key.size()));
}

std::optional<std::string_view> string_in(const lt::bdecode_node& dict, std::string_view key) {
    auto n = find(dict, key);
    if (n.type() != lt::bdecode_node::string_t) return std::nullopt;
    const auto s = n.string_value();
    return std::string_view(s.data(), s.size());
}

} // namespace

std::optional<std::string_view> flat_reader::find_string(std::string_view key) const {
    return string_in(impl_->root, key);
}

std::optional<std::int64_t> flat_reader::find_int(std::string_view key) const {
    auto n = find(impl_->root, key);
    if (n.type() != lt::bdecode_node::int_t) return std::nullopt;
    return n.int_value();
}

std::optional<std::string_view> flat_reader::find_string(std::string_view outer, std::string_view key) const {
    return string_in(find(impl_->root, outer), key);
}

namespace {

// `outer`'s entry `key` in `root` when it is a list, else a none node.
lt::bdecode_node list_in(const lt::bdecode_node& root, std::string_view outer, std::string_view key) {
    auto l = find(find(root, outer), key);
    return l.type() == lt::bdecode_node::list_t ? l : lt::bdecode_node{};
}

// Calls `fn` with each string item of `list` (other items skipped) until it returns true.
template <class Fn>
bool any_string(const lt::bdecode_node& list, Fn fn) {
    if (list.type() != lt::bdecode_node::list_t) return false;
    for (int i = 0, n = list.list_size(); i < n; ++i) {
        const auto e = list.list_at(i);
        if (e.type() != lt::bdecode_node::string_t) continue;
        const auto s = e.string_value();
        if (fn(std::string_view(s.data(), s.size()))) return true;
    }
    return false;
}

} // namespace

bool flat_reader::list_contains(std::string_view outer, std::string_view key, std::string_view item) const {
    return any_string(list_in(impl_->root, outer, key), [&](std::string_view s) { return s == item; });
}

std::optional<std::size_t> flat_reader::list_strings(std::string_view outer, std::string_view key,
                                                     std::vector<std::string_view>& out) const {
    out.clear();
    const auto l = list_in(impl_->root, outer, key);
    if (l.type() != lt::bdecode_node::list_t) return std::nullopt;
    any_string(l, [&](std::string_view s) {
        out.push_back(s);
        return false;
    });
    return static_cast<std::size_t>(l.list_size());
}

} // namespace ovl::bencode
