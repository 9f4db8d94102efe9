import SampleServers

/// `swift run Chatbot`: see `ChatbotServer` in SampleServers (also `parley serve chatbot`).
@main
enum ChatbotMain {
  static func main() async {
    await ChatbotServer.main()
  }
}
