package import HTTPTypes

extension HTTPFields {
  /// The value of the fields named `name`, as `self[name]` gives it (several joined with ", ";
  /// nil when there is none), without building a lazy joined sequence for the usual single field.
  ///
  /// Every request looks up a few fields, and `self[name]` instantiates its generic sequence types
  /// at run time on each call.
  package func value(of name: HTTPField.Name) -> String? {
    var found: String?
    for field in self where field.name == name {
      if found != nil { return self[name] }
      found = field.value
    }
    return found
  }
}
