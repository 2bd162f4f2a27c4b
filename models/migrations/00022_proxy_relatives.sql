-- Proxies who are not members (issue 16): where the bylaws let spouses,
-- registered partners, parents, children or siblings act as proxies
-- (rule proxy_eligibility = members_and_relatives, §43(5) GenG), the
-- grantor names the relationship.

-- +goose Up
ALTER TABLE proxies ADD COLUMN relationship TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE proxies DROP COLUMN relationship;
