"""labelspec.emit"""
