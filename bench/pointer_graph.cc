#include "bench/pointer_graph.h"

#include <cmath>
#include <unordered_set>
#include <utility>

namespace tapegrad::bench {

Node::~Node() {
  std::vector<std::shared_ptr<Node>> pending = std::move(prev);
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    if (node.use_count() == 1) {
      for (auto& parent : node->prev) pending.push_back(std::move(parent));
      node->prev.clear();
    }
  }
}

PValue::PValue(double data) : node_(std::make_shared<Node>()) { node_->data = data; }

PValue operator+(const PValue& a, const PValue& b) {
  auto out = std::make_shared<Node>();
  out->data = a.node_->data + b.node_->data;
  out->prev = {a.node_, b.node_};
  Node *pa = a.node_.get(), *pb = b.node_.get(), *po = out.get();
  out->backward = [pa, pb, po] {
    pa->grad += po->grad;
    pb->grad += po->grad;
  };
  return PValue(std::move(out));
}

PValue operator*(const PValue& a, const PValue& b) {
  auto out = std::make_shared<Node>();
  out->data = a.node_->data * b.node_->data;
  out->prev = {a.node_, b.node_};
  Node *pa = a.node_.get(), *pb = b.node_.get(), *po = out.get();
  out->backward = [pa, pb, po] {
    pa->grad += pb->data * po->grad;
    pb->grad += pa->data * po->grad;
  };
  return PValue(std::move(out));
}

// micrograd wraps numbers in a Value node first.
PValue operator+(const PValue& a, double b) { return a + PValue(b); }
PValue operator*(const PValue& a, double b) { return a * PValue(b); }

PValue PValue::tanh() const {
  auto out = std::make_shared<Node>();
  const double t = std::tanh(node_->data);
  out->data = t;
  out->prev = {node_};
  Node *pa = node_.get(), *po = out.get();
  out->backward = [pa, po, t] { pa->grad += (1 - t * t) * po->grad; };
  return PValue(std::move(out));
}

PValue PValue::relu() const {
  auto out = std::make_shared<Node>();
  out->data = node_->data < 0 ? 0 : node_->data;
  out->prev = {node_};
  Node *pa = node_.get(), *po = out.get();
  out->backward = [pa, po] { pa->grad += (po->data > 0) * po->grad; };
  return PValue(std::move(out));
}

void PValue::Backward() const {
  // micrograd's build_topo, with an explicit stack: a node is appended once all
  // of its parents are.
  std::vector<Node*> topo;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<Node*, size_t>> stack;
  visited.insert(node_.get());
  stack.emplace_back(node_.get(), 0);
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->prev.size()) {
      Node* parent = node->prev[next++].get();
      if (visited.insert(parent).second) stack.emplace_back(parent, 0);
    } else {
      topo.push_back(node);
      stack.pop_back();
    }
  }
  node_->grad = 1;
  for (auto it = topo.rbegin(); it != topo.rend(); ++it) {
    if ((*it)->backward) (*it)->backward();
  }
}

}  // namespace tapegrad::bench
