#include "servers/nameserver/version_extras.h"

#include <algorithm>

namespace chainfs::nameserver {

VersionExtras::VersionExtras(const VersionExtras& other)
    : data_(other.data_ ? std::make_unique<Data>(*other.data_) : nullptr) {}

VersionExtras& VersionExtras::operator=(const VersionExtras& other) {
  if (this != &other) data_ = other.data_ ? std::make_unique<Data>(*other.data_) : nullptr;
  return *this;
}

VersionExtras VersionExtras::Of(const v1::Attributes& attributes) {
  VersionExtras extras;
  if (attributes.rdev() == 0 && attributes.xattrs().empty()) return extras;
  extras.data_ = std::make_unique<Data>();
  extras.data_->rdev = attributes.rdev();
  extras.data_->xattrs.assign(attributes.xattrs().begin(), attributes.xattrs().end());
  std::sort(extras.data_->xattrs.begin(), extras.data_->xattrs.end());
  extras.data_->xattrs.shrink_to_fit();
  return extras;
}

void VersionExtras::FillIn(v1::Attributes* attributes) const {
  if (!data_) return;
  attributes->set_rdev(data_->rdev);
  auto* xattrs = attributes->mutable_xattrs();
  for (const auto& [name, value] : data_->xattrs) (*xattrs)[name] = value;
}

}  // namespace chainfs::nameserver
