"""mmcurate.pipeline.net: the safe HTTP downloader (SSRF guard, deadlines, caps, sniffing).

Submodules are imported explicitly (``from mmcurate.pipeline.net.fetch import fetch_many``); this
package file stays empty so importing a stage does not pull in an HTTP client.
"""
