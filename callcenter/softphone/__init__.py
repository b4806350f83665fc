"""The agent desktop's WebRTC softphone: signaling, the aiortc peer, the media leg."""
