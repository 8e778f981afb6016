"""labelspec.check"""
