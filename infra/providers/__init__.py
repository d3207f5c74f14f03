"""The program's dynamic providers (the Modal deployment, the D1 migrations) and the one seam
each crosses to reach Modal or the Cloudflare API, which the tests replace with local fakes.
"""
