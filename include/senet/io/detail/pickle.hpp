#pragma once
/// \file pickle.hpp
/// A pickle reader that understands exactly one thing: the `data.pkl` of a `torch.save`d
/// `state_dict`, an (ordered) dict of tensor names to tensors rebuilt from persistent-id storages.
///
/// It interprets the opcodes Python's pickler writes for such a dict at protocols 2 to 5 and
/// nothing else, and never calls anything: the only globals it accepts are
/// `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`
/// and the `torch.<Type>Storage` classes, each of which it replaces by its own bookkeeping (a new
/// dict, a tensor record, the same tensor record, a storage type). Any other global or opcode is
/// refused with a `senet::Error` that names it and the byte where it stands.
///
/// What a `state_dict` pickle looks like (protocol 2, as `torch.save` writes it; `pickletools.dis`):
///
///     collections.OrderedDict ()  REDUCE            -> the dict
///     MARK 'conv1.weight'
///          torch._utils._rebuild_tensor_v2 (
///              BINPERSID ('storage', torch.FloatStorage, '0', 'cpu', 432),   # key, device, numel
///              0, (16, 3, 3, 3), (27, 9, 3, 1), False, OrderedDict())  REDUCE
///          ...
///     SETITEMS
///     {'_metadata': OrderedDict({'': {'version': 1}, ...})}  BUILD   # attributes of the dict
///     STOP
///
/// Limits: values nest at most `kMaxDepth` containers deep, the stack holds at most `kMaxStack`
/// values, a tensor has at most `kMaxRank` dimensions, storage keys and devices are at most
/// `kMaxKeyBytes` long, and at most `Limits::max_tensors` tensors, storages and dict entries are
/// made. Memory use is otherwise linear in the pickle's size: strings are views of the pickle,
/// tuples share one array, the memo is an array of at most `kMaxStack` values, and a pickle made
/// to use the most costs about 10 bytes per byte. No value is ever copied by a reference to it (BINGET), so no
/// pickle costs more than linear time either.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senet/core/error.hpp"
#include "senet/io/detail/bytes.hpp"

namespace senet::detail::pickle {

/// Deepest nesting of containers (tuples, dicts) accepted: a state_dict needs 3 or 4.
inline constexpr std::size_t kMaxDepth = 16;
/// Most values on the stack at once (Python's pickler writes dict items in batches of 1000), and
/// the largest memo index (the pickler numbers the objects it writes from 0).
inline constexpr std::size_t kMaxStack = std::size_t{1} << 20;
/// Longest module or class name of a GLOBAL.
inline constexpr std::size_t kMaxGlobalBytes = 256;
/// Longest storage key or device name (torch writes "0", "1", ... and "cpu", "cuda:0").
inline constexpr std::size_t kMaxKeyBytes = 1024;
/// Most dimensions of a tensor (as safetensors').
inline constexpr std::size_t kMaxRank = 64;

/// A storage class `torch.save` names in persistent ids, and the dtype it holds (safetensors'
/// dtype names).
struct StorageType {
  const char* name;
  const char* dtype;
};

inline constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", "F32"}, {"HalfStorage", "F16"},  {"BFloat16Storage", "BF16"}, {"DoubleStorage", "F64"},
    {"LongStorage", "I64"},  {"IntStorage", "I32"},   {"ShortStorage", "I16"},     {"CharStorage", "I8"},
    {"ByteStorage", "U8"},   {"BoolStorage", "BOOL"},
};

/// One storage of the checkpoint: `<archive>/data/<key>` holds its `numel` elements of `dtype`.
struct Storage {
  std::string key;
  const StorageType* type = nullptr;
  std::string location;  ///< the device it was saved from ("cpu", "cuda:0"); data is the same
  std::uint64_t numel = 0;
};

/// One tensor as `_rebuild_tensor_v2` would make it: a strided view of a storage.
struct TensorRecord {
  std::size_t storage = 0;   ///< index into `StateDict::storages`
  std::uint64_t offset = 0;  ///< first element, in elements of the storage
  std::vector<std::uint64_t> sizes, strides;
};

/// What `parse_state_dict` finds: the storages, the tensors, and the dict's entries in order
/// (name, index into `tensors`; one tensor may have several names).
struct StateDict {
  std::vector<Storage> storages;
  std::vector<TensorRecord> tensors;
  std::vector<std::pair<std::string, std::size_t>> entries;
};

/// The name of pickle opcode `op` for messages ("GLOBAL"), or nullptr for a byte that is none.
inline const char* opcode_name(unsigned char op) {
  // clang-format off
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
  // clang-format on
}

/// The limits `parse_state_dict` applies beyond its constants.
struct Limits {
  std::uint64_t max_tensors = 65536;             ///< tensors, storages and names, each
  const char* max_tensors_name = "max_tensors";  ///< how the message names that limit
};

namespace internal {

/// The interpreter. Values live in arenas owned by the machine and refer to each other by index,
/// so that nothing is freed recursively and a cycle (a dict put into itself through the memo) is
/// harmless; walks over the result are depth-limited.
class Machine {
 public:
  Machine(const unsigned char* data, std::size_t size, std::string where, const Limits& limits)
      : p_(data), size_(size), where_(std::move(where)), limits_(limits) {
    tuples_.push_back({0, 0, 1});  // index 0: the empty tuple, shared
  }

  StateDict run() {
    while (true) {
      SENET_CHECK(pos_ < size_, where_, ": the pickle ends at byte ", size_, " without a STOP opcode (truncated?)");
      op_pos_ = pos_;
      const unsigned char op = p_[pos_++];
      switch (op) {
        case 0x80: {  // PROTO
          const unsigned proto = byte();
          if (proto < 2 || proto > 5) fail(cat("pickle protocol ", proto, " is not supported (torch.save writes 2)"));
          break;
        }
        case 0x95: {  // FRAME: protocol 4's framing; the frame's opcodes follow inline
          const std::uint64_t n = uint(8);
          if (n > size_ - pos_) fail(cat("a frame of ", n, " bytes runs past the end of the pickle (truncated?)"));
          break;
        }
        case 'c': {  // GLOBAL module\nname\n
          const std::string_view module = line();
          const std::string_view name = line();
          push(resolve_global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const Value name = pop(), module = pop();
          if (name.kind != Kind::string || module.kind != Kind::string)
            fail("STACK_GLOBAL needs a module and a name as strings");
          push(resolve_global(text(module), text(name)));
          break;
        }
        case 'q':  // BINPUT
          memo_put(byte());
          break;
        case 'r':  // LONG_BINPUT
          memo_put(uint(4));
          break;
        case 0x94:                // MEMOIZE
          memo_put(memo_count_);  // Python's len(memo)
          break;
        case 'h':  // BINGET
          memo_get(byte());
          break;
        case 'j':  // LONG_BINGET
          memo_get(uint(4));
          break;
        case '(':  // MARK
          if (marks_.size() >= kMaxStack) fail(cat("more than ", kMaxStack, " open MARKs"));
          marks_.push_back(stack_.size());
          break;
        case ')':  // EMPTY_TUPLE
          push({Kind::tuple, 0});
          break;
        case 't': {  // TUPLE
          const std::size_t start = pop_mark();
          const Value t = make_tuple(start, stack_.size() - start);
          stack_.resize(start);
          push(t);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1, TUPLE2, TUPLE3
          const std::size_t n = op - 0x84u;
          if (stack_.size() - (marks_.empty() ? 0 : marks_.back()) < n)
            fail(cat(opcode_name(op), " needs ", n, " values on the stack"));
          const Value t = make_tuple(stack_.size() - n, n);
          stack_.resize(stack_.size() - n);
          push(t);
          break;
        }
        case '}':  // EMPTY_DICT
          push(make_dict(false));
          break;
        case 's': {  // SETITEM
          const Value value = pop(), key = pop();
          set_item(top(), key, value);
          break;
        }
        case 'u': {  // SETITEMS
          const std::size_t start = pop_mark();
          if ((stack_.size() - start) % 2 != 0) fail("SETITEMS with an odd number of values after its MARK");
          if (start == 0 || (!marks_.empty() && marks_.back() == start)) fail("SETITEMS without a dict below its MARK");
          for (std::size_t i = start; i < stack_.size(); i += 2) set_item(stack_[start - 1], stack_[i], stack_[i + 1]);
          stack_.resize(start);
          break;
        }
        case 'X':  // BINUNICODE
          push_string(uint(4));
          break;
        case 0x8c:  // SHORT_BINUNICODE
          push_string(byte());
          break;
        case 0x8d:  // BINUNICODE8
          push_string(uint(8));
          break;
        case 'K':  // BININT1
          push({Kind::integer, static_cast<std::int64_t>(byte())});
          break;
        case 'M':  // BININT2
          push({Kind::integer, static_cast<std::int64_t>(uint(2))});
          break;
        case 'J':  // BININT
          push({Kind::integer,
                static_cast<std::int64_t>(static_cast<std::int32_t>(static_cast<std::uint32_t>(uint(4))))});
          break;
        case 0x8a: {  // LONG1: n bytes of two's complement, little-endian
          const std::size_t n = byte();
          if (n > 8) fail(cat("an integer of ", n, " bytes is wider than 64 bits"));
          std::uint64_t v = uint(n);
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) != 0) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
          push({Kind::integer, static_cast<std::int64_t>(v)});
          break;
        }
        case 'N':  // NONE
          push({Kind::none, 0});
          break;
        case 0x88:  // NEWTRUE
          push({Kind::boolean, 1});
          break;
        case 0x89:  // NEWFALSE
          push({Kind::boolean, 0});
          break;
        case 'R': {  // REDUCE
          const Value args = pop(), callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 'b': {  // BUILD
          const Value state = pop();
          build(top(), state);
          break;
        }
        case 'Q':  // BINPERSID
          push(persistent_load(pop()));
          break;
        case '.':  // STOP
          return finish(pop());
        default: {
          const char* name = opcode_name(op);
          if (name == nullptr) fail(cat("byte 0x", hex(op), " is not a pickle opcode (damaged data.pkl?)"));
          fail(cat("opcode ", name, " (0x", hex(op),
                   ") is not accepted: only the opcodes torch.save writes for a state_dict are read"));
        }
      }
    }
  }

 private:
  enum class Kind : std::uint8_t { none, boolean, integer, string, tuple, dict, global, storage, tensor, unset };
  struct Value {
    Kind kind = Kind::none;
    std::int64_t v = 0;  // the integer or boolean, or the index into the arena of its kind
  };
  struct Dict {
    std::vector<std::pair<Value, Value>> items;
    std::uint32_t depth = 1;
    bool ordered = false;  // made by collections.OrderedDict(): takes BUILD's _metadata
  };
  /// A string: bytes of the pickle itself.
  struct Span {
    std::size_t begin, size;
  };
  /// A tuple: `size` values of `tuple_items_` from `begin`.
  struct TupleRef {
    std::size_t begin;
    std::uint32_t size, depth;
  };
  /// A tuple's values, valid until the next tuple is made.
  struct Items {
    const Value* data;
    std::size_t n;
    std::size_t size() const { return n; }
    bool empty() const { return n == 0; }
    const Value& operator[](std::size_t i) const { return data[i]; }
    const Value* begin() const { return data; }
    const Value* end() const { return data + n; }
  };
  // The callables a GLOBAL may name; storage types follow as kStorageGlobal + their index.
  enum GlobalId : std::int64_t { kOrderedDict, kRebuildTensorV2, kRebuildParameter, kStorageGlobal };

  [[noreturn]] void fail(const std::string& what) const { throw Error(cat(where_, " at byte ", op_pos_, ": ", what)); }

  static std::string hex(unsigned v) {
    static const char digits[] = "0123456789abcdef";
    return std::string{digits[(v >> 4) & 0xF], digits[v & 0xF]};
  }

  static const char* kind_name(Kind k) {
    // clang-format off
    switch (k) {
      case Kind::none: return "None";
      case Kind::boolean: return "a bool";
      case Kind::integer: return "an integer";
      case Kind::string: return "a string";
      case Kind::tuple: return "a tuple";
      case Kind::dict: return "a dict";
      case Kind::global: return "a class or function";
      case Kind::storage: return "a storage";
      case Kind::tensor: return "a tensor";
      case Kind::unset: return "nothing";
    }
    // clang-format on
    return "a value";
  }

  // ---- reading the opcode stream

  unsigned byte() {
    if (pos_ >= size_) fail("the pickle ends inside an opcode's argument (truncated?)");
    return p_[pos_++];
  }
  std::uint64_t uint(std::size_t n) {
    if (n > size_ - pos_) fail("the pickle ends inside an opcode's argument (truncated?)");
    const std::uint64_t v = load_le(p_ + pos_, n);
    pos_ += n;
    return v;
  }
  /// A GLOBAL's text argument up to '\n'.
  std::string_view line() {
    const std::size_t start = pos_;
    while (pos_ < size_ && p_[pos_] != '\n') {
      if (pos_ - start >= kMaxGlobalBytes) fail(cat("a GLOBAL name longer than ", kMaxGlobalBytes, " bytes"));
      ++pos_;
    }
    if (pos_ >= size_) fail("the pickle ends inside a GLOBAL's name (truncated?)");
    const std::string_view s(reinterpret_cast<const char*>(p_ + start), pos_ - start);
    ++pos_;
    return s;
  }
  void push_string(std::uint64_t n) {
    if (n > size_ - pos_) fail(cat("a string of ", n, " bytes runs past the end of the pickle (truncated?)"));
    strings_.push_back({pos_, static_cast<std::size_t>(n)});
    pos_ += static_cast<std::size_t>(n);
    push({Kind::string, static_cast<std::int64_t>(strings_.size() - 1)});
  }
  /// The bytes of string value `v`.
  std::string_view text(Value v) const {
    const Span& s = strings_[index(v)];
    return {reinterpret_cast<const char*>(p_ + s.begin), s.size};
  }
  /// `text` of at most `max_bytes`, quotable in a message.
  static std::string quoted(std::string_view text, std::size_t max_bytes = 200) {
    return printable(std::string(text.substr(0, max_bytes + 8)), max_bytes);
  }

  // ---- the stack, marks and memo

  void push(Value v) {
    if (stack_.size() >= kMaxStack) fail(cat("more than ", kMaxStack, " values on the pickle stack"));
    stack_.push_back(v);
  }
  Value pop() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
      fail(cat(opcode_name(p_[op_pos_]), " needs a value on the stack and there is none"));
    const Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  /// The value on top of the stack, which must be above the last MARK (as Python's unpickler
  /// sees it: a MARK starts a new, empty stack).
  Value& top() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
      fail(cat(opcode_name(p_[op_pos_]), " needs a value on the stack and there is none"));
    return stack_.back();
  }
  std::size_t pop_mark() {
    if (marks_.empty()) fail(cat(opcode_name(p_[op_pos_]), " without a MARK"));
    const std::size_t start = marks_.back();
    marks_.pop_back();
    return start;
  }
  void memo_put(std::uint64_t key) {
    if (key >= kMaxStack) fail(cat("memo index ", key, " is beyond the ", kMaxStack, " accepted"));
    const Value v = top();
    if (key >= memo_.size()) memo_.resize(static_cast<std::size_t>(key) + 1, Value{Kind::unset, 0});
    memo_count_ += memo_[static_cast<std::size_t>(key)].kind == Kind::unset;
    memo_[static_cast<std::size_t>(key)] = v;
  }
  void memo_get(std::uint64_t key) {
    if (key >= memo_.size() || memo_[static_cast<std::size_t>(key)].kind == Kind::unset)
      fail(cat("memo entry ", key, " is read but was never stored"));
    push(memo_[static_cast<std::size_t>(key)]);
  }

  static std::size_t index(Value v) { return static_cast<std::size_t>(v.v); }

  // ---- containers

  std::size_t depth(Value v) const {
    if (v.kind == Kind::tuple) return tuples_[index(v)].depth;
    if (v.kind == Kind::dict) return dicts_[index(v)].depth;
    return 0;
  }
  void check_depth(std::size_t d) const {
    if (d > kMaxDepth) fail(cat("containers nest more than ", kMaxDepth, " deep (not a state_dict)"));
  }
  /// A tuple of the `n` values of the stack from `first`.
  Value make_tuple(std::size_t first, std::size_t n) {
    if (n == 0) return {Kind::tuple, 0};
    std::size_t d = 0;
    for (std::size_t i = first; i < first + n; ++i) d = std::max(d, depth(stack_[i]));
    check_depth(d + 1);
    tuples_.push_back({tuple_items_.size(), static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(d + 1)});
    tuple_items_.insert(tuple_items_.end(), stack_.begin() + static_cast<std::ptrdiff_t>(first),
                        stack_.begin() + static_cast<std::ptrdiff_t>(first + n));
    return {Kind::tuple, static_cast<std::int64_t>(tuples_.size() - 1)};
  }
  Value make_dict(bool ordered) {
    dicts_.emplace_back();
    dicts_.back().ordered = ordered;
    return {Kind::dict, static_cast<std::int64_t>(dicts_.size() - 1)};
  }
  void set_item(Value dict, Value key, Value value) {
    if (dict.kind != Kind::dict) fail(cat("SETITEM on ", kind_name(dict.kind), ", not a dict"));
    if (key.kind != Kind::string) fail(cat("a dict key is ", kind_name(key.kind), ", not a string"));
    Dict& d = dicts_[index(dict)];
    if (d.items.size() >= limits_.max_tensors)
      fail(cat("a dict of more than ", limits_.max_tensors, " entries (", limits_.max_tensors_name, ")"));
    const std::size_t new_depth = std::max<std::size_t>(d.depth, depth(value) + 1);
    check_depth(new_depth);
    d.depth = static_cast<std::uint32_t>(new_depth);
    d.items.emplace_back(key, value);
  }
  Items tuple_items(Value v) const {
    const TupleRef& t = tuples_[index(v)];
    return {tuple_items_.data() + t.begin, t.size};
  }

  // ---- globals, calls and persistent ids

  Value resolve_global(std::string_view module, std::string_view name) {
    const auto global = [](std::int64_t id) { return Value{Kind::global, id}; };
    if (module == "collections" && name == "OrderedDict") return global(kOrderedDict);
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") return global(kRebuildTensorV2);
    if (module == "torch._utils" && name == "_rebuild_parameter") return global(kRebuildParameter);
    if (module == "torch")
      for (std::size_t i = 0; i < std::size(kStorageTypes); ++i)
        if (name == kStorageTypes[i].name) return global(kStorageGlobal + static_cast<std::int64_t>(i));
    std::string why;
    if (module.rfind("__torch__", 0) == 0)
      why =
          "a TorchScript archive (torch.jit.save)? Save its state_dict: torch.save(torch.jit.load(f).state_dict(), g)";
    else if (module == "torch._utils")
      why = "quantized, sparse and other special tensors are not read, only dense float and integer ones";
    else if (module == "torch" && name.size() > 7 && name.compare(name.size() - 7, 7, "Storage") == 0)
      why = "tensors of this dtype are not read (float32, float16, bfloat16, float64, integers and bool are)";
    else
      why =
          "only a state_dict (a dict of tensors) is read, not a whole model or other Python objects: save "
          "model.state_dict()";
    fail(cat("global '", quoted(module, 100), ".", quoted(name, 100), "' is not allowed: ", why,
             "; nothing in the file is run"));
  }

  static std::string global_name(std::int64_t id) {
    switch (id) {
      case kOrderedDict:
        return "collections.OrderedDict";
      case kRebuildTensorV2:
        return "torch._utils._rebuild_tensor_v2";
      case kRebuildParameter:
        return "torch._utils._rebuild_parameter";
      default:
        return std::string("torch.") + kStorageTypes[static_cast<std::size_t>(id - kStorageGlobal)].name;
    }
  }

  bool empty_dict(Value v) const { return v.kind == Kind::dict && dicts_[index(v)].items.empty(); }

  std::uint64_t non_negative(Value v, const char* what) const {
    if (v.kind != Kind::integer || v.v < 0) fail(cat(what, " is ", kind_name(v.kind), ", not a non-negative integer"));
    return static_cast<std::uint64_t>(v.v);
  }

  std::vector<std::uint64_t> extents(Value v, const char* what) const {
    if (v.kind != Kind::tuple) fail(cat("the tensor's ", what, " is ", kind_name(v.kind), ", not a tuple"));
    const Items items = tuple_items(v);
    if (items.size() > kMaxRank)
      fail(cat("the tensor's ", what, " has ", items.size(), " dimensions, more than the ", kMaxRank, " allowed"));
    std::vector<std::uint64_t> out;
    for (const Value& x : items) out.push_back(non_negative(x, what));
    return out;
  }

  Value reduce(Value callable, Value args) {
    if (callable.kind != Kind::global) fail(cat("REDUCE calls ", kind_name(callable.kind), ", not a known class"));
    if (args.kind != Kind::tuple)
      fail(cat("REDUCE of ", global_name(callable.v), " with ", kind_name(args.kind), " as arguments"));
    const Items a = tuple_items(args);  // no tuple is made while `a` is in use
    switch (callable.v) {
      case kOrderedDict:
        if (!a.empty()) fail("collections.OrderedDict called with arguments (only OrderedDict() is read)");
        return make_dict(true);
      case kRebuildTensorV2: {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.size() != 6 && a.size() != 7)
          fail(cat("torch._utils._rebuild_tensor_v2 called with ", a.size(), " arguments (expected 6 or 7)"));
        if (a[0].kind != Kind::storage) fail(cat("the tensor's storage is ", kind_name(a[0].kind)));
        TensorRecord t;
        t.storage = index(a[0]);
        t.offset = non_negative(a[1], "the storage offset");
        t.sizes = extents(a[2], "size");
        t.strides = extents(a[3], "stride");
        if (t.sizes.size() != t.strides.size())
          fail(cat("the tensor's size has ", t.sizes.size(), " dimensions and its stride ", t.strides.size()));
        if (a[4].kind != Kind::boolean) fail("the tensor's requires_grad is not a bool");
        if (!empty_dict(a[5])) fail("the tensor has backward hooks (not read)");
        if (a.size() == 7 && a[6].kind != Kind::none && !empty_dict(a[6])) fail("the tensor has metadata (not read)");
        if (out_.tensors.size() >= limits_.max_tensors)
          fail(cat("more than ", limits_.max_tensors, " tensors (", limits_.max_tensors_name, ")"));
        out_.tensors.push_back(std::move(t));
        return {Kind::tensor, static_cast<std::int64_t>(out_.tensors.size() - 1)};
      }
      case kRebuildParameter:
        // (data, requires_grad, backward_hooks): an nn.Parameter saved as such; its data is the tensor.
        if (a.size() != 3)
          fail(cat("torch._utils._rebuild_parameter called with ", a.size(), " arguments (expected 3)"));
        if (a[0].kind != Kind::tensor) fail(cat("torch._utils._rebuild_parameter of ", kind_name(a[0].kind)));
        if (a[1].kind != Kind::boolean) fail("the parameter's requires_grad is not a bool");
        if (!empty_dict(a[2])) fail("the parameter has backward hooks (not read)");
        return a[0];
      default:
        fail(cat(global_name(callable.v), " is called, which a state_dict never does"));
    }
  }

  /// BUILD on the state_dict: torch sets one attribute, `_metadata` (each module's version).
  void build(Value target, Value state) {
    if (target.kind != Kind::dict || !dicts_[index(target)].ordered)
      fail(cat("BUILD on ", kind_name(target.kind), " (only an OrderedDict's _metadata is read)"));
    if (state.kind != Kind::dict) fail(cat("BUILD with ", kind_name(state.kind), " as state (expected a dict)"));
    for (const auto& [key, value] : dicts_[index(state)].items)
      if (text(key) != "_metadata")
        fail(cat("BUILD sets the attribute '", quoted(text(key), 100), "' of an OrderedDict (only _metadata is read)"));
  }

  /// BINPERSID ('storage', torch.<Type>Storage, key, location, numel): a storage of the archive.
  Value persistent_load(Value pid) {
    if (pid.kind != Kind::tuple || tuple_items(pid).size() != 5)
      fail("a persistent id that is not ('storage', type, key, location, numel)");
    const Items a = tuple_items(pid);
    if (a[0].kind != Kind::string || text(a[0]) != "storage") fail("a persistent id that does not name a storage");
    if (a[1].kind != Kind::global || a[1].v < kStorageGlobal)
      fail("a persistent id whose storage type is not a torch.<Type>Storage class");
    if (a[2].kind != Kind::string || a[3].kind != Kind::string)
      fail("a persistent id whose key or location is not a string");
    if (text(a[2]).size() > kMaxKeyBytes || text(a[3]).size() > kMaxKeyBytes)
      fail(cat("a storage key or device name longer than ", kMaxKeyBytes, " bytes"));
    Storage s;
    s.type = &kStorageTypes[static_cast<std::size_t>(a[1].v - kStorageGlobal)];
    s.key = std::string(text(a[2]));
    s.location = std::string(text(a[3]));
    s.numel = non_negative(a[4], "the storage's element count");
    // The same storage is named again by every tensor that views it; it must be the same each time.
    const auto it = storage_index_.find(s.key);
    if (it != storage_index_.end()) {
      const Storage& seen = out_.storages[it->second];
      if (seen.type != s.type || seen.numel != s.numel)
        fail(cat("storage '", printable(s.key, 100), "' is named as ", seen.numel, " ", seen.type->name,
                 " elements and as ", s.numel, " ", s.type->name, " elements"));
      return {Kind::storage, static_cast<std::int64_t>(it->second)};
    }
    if (out_.storages.size() >= limits_.max_tensors)
      fail(cat("more than ", limits_.max_tensors, " storages (", limits_.max_tensors_name, ")"));
    storage_index_.emplace(s.key, out_.storages.size());
    out_.storages.push_back(std::move(s));
    return {Kind::storage, static_cast<std::int64_t>(out_.storages.size() - 1)};
  }

  /// STOP: the pickled object must be a dict of names to tensors.
  StateDict finish(Value result) {
    if (result.kind != Kind::dict)
      fail(cat("the pickled object is ", kind_name(result.kind),
               ", not a dict of tensors (only a state_dict is read: torch.save(model.state_dict(), f))"));
    std::set<std::string_view> names;
    const std::vector<std::pair<Value, Value>>& items = dicts_[index(result)].items;  // at most max_tensors
    for (const auto& [key, value] : items) {
      const std::string_view name = text(key);
      if (value.kind != Kind::tensor)
        fail(cat("entry '", quoted(name), "' of the dict is ", kind_name(value.kind),
                 ", not a tensor: only a state_dict is read (from a training checkpoint, save the state_dict alone: "
                 "torch.save(checkpoint['state_dict'], f))"));
      if (!names.insert(name).second) fail(cat("the dict names tensor '", quoted(name), "' more than once"));
      out_.entries.emplace_back(std::string(name), index(value));
    }
    return std::move(out_);
  }

  const unsigned char* p_;
  std::size_t size_;
  std::size_t pos_ = 0, op_pos_ = 0;
  std::string where_;
  Limits limits_;

  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::vector<Value> memo_;  // by index; Kind::unset where nothing was stored
  std::size_t memo_count_ = 0;
  std::vector<Span> strings_;
  std::vector<TupleRef> tuples_;
  std::vector<Value> tuple_items_;
  std::vector<Dict> dicts_;
  std::map<std::string, std::size_t> storage_index_;
  StateDict out_;
};

}  // namespace internal

/// Interprets the `size` bytes at `data` as the pickle of a state_dict (see the file comment).
/// `where` starts every message ("ckpt.pth: archive/data.pkl"), followed by the byte offset of
/// the opcode at fault. Types and counts are checked here; whether each tensor fits its storage
/// is the caller's to check (it knows the storages' sizes).
inline StateDict parse_state_dict(const unsigned char* data, std::size_t size, const std::string& where,
                                  const Limits& limits = {}) {
  return internal::Machine(data, size, where, limits).run();
}

}  // namespace senet::detail::pickle
